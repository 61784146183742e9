"""Simulated ``rp2`` module (the parts the drivers use). NEVER UPLOAD THIS TO A BOARD.

``bootsel_button()`` reads the simulated BOOTSEL switch: ``machine.sim.set_input("BOOTSEL", 1)``
presses it. Importing this module on a simulated ESP32 port fails, as ``import rp2`` does there.
"""

import machine

if machine.sim.port not in ("rp2", "rp2w"):
    raise ImportError("no module named 'rp2' on the simulated %s port" % machine.sim.port)


def bootsel_button():
    """1 while BOOTSEL is held (the real one pauses IRQs ~8 us to read QSPI_SS: poll it)."""
    st = machine.sim.pins.get("BOOTSEL")
    return 1 if st is not None and st.ext else 0
