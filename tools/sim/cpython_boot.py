"""Run a firmware-side script on CPython the way the unix port runs it: the simulated hardware
(this directory) and the firmware (firmware/lib, firmware) first on sys.path, MicroPython's APIs
installed (cpython_runtime). More directories come from PYTHONPATH.

    python tools/sim/cpython_boot.py SCRIPT [ARGS...]
"""

import runpy
import sys
from pathlib import Path

SIM = Path(__file__).resolve().parent
FIRMWARE = SIM.parent.parent / "firmware"
sys.path[:0] = [str(SIM), str(FIRMWARE / "lib"), str(FIRMWARE)]
import cpython_runtime  # noqa: E402

cpython_runtime.install()
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
