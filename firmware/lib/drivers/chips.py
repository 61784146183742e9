# Silicon facts the board loader checks pins against, and the PWM resource rules of each port
# (enforced by drivers.pwm.PwmPlan). Board files name their chip; what is true of every board
# with that chip lives here, what is true of one board (its own wiring) lives in the board file.
# Boot-only: drivers.board.unload() drops this table once the board is built. Sources: research
# notes section 2-3 (Espressif datasheets and DevKit guides, MicroPython's machine_pwm.c).


def _gpios(*ranges):
    out = []  # type: list
    for lo, hi in ranges:
        out.extend(range(lo, hi + 1))
    return tuple(out)


CHIPS = {
    "esp32": {
        "gpio": _gpios((0, 19), (21, 23), (25, 27), (32, 39)),
        "flash": (6, 7, 8, 9, 10, 11),
        "input_only": (34, 35, 36, 37, 38, 39),  # and no internal pulls
        "strapping": (0, 2, 5, 12, 15),  # 12 selects the flash voltage at reset
        "console": (1, 3),  # UART0 REPL
        # LEDC: 2 speed modes x 4 timers; channels with one frequency share a timer
        "pwm": {"kind": "ledc", "timers": 8, "channels": 16, "freq": (1, 40000000)},
        "hard_irq": False,
    },
    "esp32s3": {
        "gpio": _gpios((0, 21), (26, 48)),
        "flash": (26, 27, 28, 29, 30, 31, 32),
        "input_only": (),
        "strapping": (0, 3, 45, 46),
        "console": (19, 20, 43, 44),  # USB serial/JTAG and UART0
        "pwm": {"kind": "ledc", "timers": 4, "channels": 8, "freq": (1, 40000000)},
        "hard_irq": False,
    },
    "esp32c3": {
        "gpio": _gpios((0, 21)),
        "flash": (12, 13, 14, 15, 16, 17),
        "input_only": (),
        "strapping": (2, 8, 9),
        "console": (18, 19, 20, 21),  # USB serial/JTAG and UART0
        "pwm": {"kind": "ledc", "timers": 4, "channels": 6, "freq": (1, 40000000)},
        "hard_irq": False,
    },
    "rp2040": {
        "gpio": _gpios((0, 29)),
        "flash": (),
        "input_only": (),
        "strapping": (),
        "console": (),
        # 8 slices x 2 channels; GPIO n and n+16 are the same channel (125 MHz system clock)
        "pwm": {"kind": "slices", "slices": 8, "freq": (8, 62500000)},
        "hard_irq": True,
    },
    "rp2350": {
        "gpio": _gpios((0, 29)),
        "flash": (),
        "input_only": (),
        "strapping": (),
        "console": (),
        "pwm": {"kind": "slices", "slices": 12, "freq": (9, 75000000)},
        "hard_irq": True,
        # RP2350-E9: a pulled-down input can latch at ~2.2 V; use pull-up / active-low
        "no_pull_down": True,
    },
    # the simulated board: any id the machine shim accepts on every simulated port
    "virtual": {
        "gpio": _gpios((0, 5), (12, 19), (21, 22), (26, 27)),
        "flash": (),
        "input_only": (),
        "strapping": (),
        "console": (),
        "pwm": {"kind": "ledc", "timers": 8, "channels": 16, "freq": (1, 40000000)},
        "hard_irq": False,
    },
}
