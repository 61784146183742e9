# Silicon facts the board loader checks pins against, and the PWM resource rules of each port.
# Board files name their chip; what is true of every board with that chip lives here, what is
# true of one board (its own wiring) lives in the board file. Sources: drivers.md section 2-3
# (Espressif datasheets and DevKit guides, MicroPython ports/{esp32,rp2}/machine_pwm.c).


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


def rp2_channel(gpio):
    """(slice, channel) of an RP2 GPIO: 2k and 2k+1 share a slice, n and n+16 alias."""
    if gpio < 32:
        return (gpio >> 1) & 7, gpio & 1
    return 8 + ((gpio - 32) >> 1), gpio & 1


class PwmPlan:
    """Tracks who uses which PWM resource, so a conflict is refused with a clear message.

    ESP32 (LEDC): at most ``timers`` distinct frequencies and ``channels`` outputs. RP2: one
    frequency per slice, and GPIO n / n+16 cannot both be used (they are one channel).
    """

    def __init__(self, chip):
        self.chip = chip
        self.rules = CHIPS[chip]["pwm"]
        self.users = {}  # owner -> [gpio, freq]

    def freq_range(self):
        return self.rules["freq"]

    def claim(self, owner, gpio, freq):
        """Reserve a channel for ``owner``; raises ValueError naming the conflict."""
        lo, hi = self.rules["freq"]
        if not lo <= freq <= hi:
            raise ValueError("PWM frequency %d Hz is outside %d..%d Hz" % (freq, lo, hi))
        if self.rules["kind"] == "slices":
            mine = rp2_channel(gpio)
            for other, (ogpio, ofreq) in self.users.items():
                theirs = rp2_channel(ogpio)
                if theirs == mine:
                    raise ValueError("GPIO %d is the same PWM channel (slice %d %s) as GPIO %d of '%s'"
                                     % (gpio, mine[0], "AB"[mine[1]], ogpio, other))
                if theirs[0] == mine[0] and ofreq != freq:
                    raise ValueError("GPIO %d shares PWM slice %d with GPIO %d of '%s' at %d Hz: "
                                     "a slice has one frequency" % (gpio, mine[0], ogpio, other, ofreq))
        else:
            if len(self.users) >= self.rules["channels"]:
                raise ValueError("out of PWM channels: %s has %d" % (self.chip, self.rules["channels"]))
            self._check_timers(owner, freq)
        self.users[owner] = [gpio, freq]

    def _check_timers(self, owner, freq):
        freqs = set()
        for other, (_, ofreq) in self.users.items():
            if other != owner:
                freqs.add(ofreq)
        freqs.add(freq)
        if len(freqs) > self.rules["timers"]:
            raise ValueError("out of PWM timers: %s has %d distinct frequencies (in use: %s Hz)"
                             % (self.chip, self.rules["timers"],
                                ", ".join(str(f) for f in sorted(freqs) if f != freq)))

    def check_freq(self, owner, freq):
        """Raise ValueError if ``owner`` may not switch to ``freq``."""
        lo, hi = self.rules["freq"]
        if not lo <= freq <= hi:
            raise ValueError("must be between %d and %d Hz" % (lo, hi))
        if owner not in self.users:
            return
        gpio = self.users[owner][0]
        if self.rules["kind"] == "slices":
            mine = rp2_channel(gpio)[0]
            for other, (ogpio, ofreq) in self.users.items():
                if other != owner and rp2_channel(ogpio)[0] == mine and ofreq != freq:
                    raise ValueError("GPIO %d shares PWM slice %d with '%s' (GPIO %d) at %d Hz"
                                     % (gpio, mine, other, ogpio, ofreq))
        else:
            self._check_timers(owner, freq)

    def set_freq(self, owner, freq):
        if owner in self.users:
            self.users[owner][1] = freq

    def release(self, owner):
        self.users.pop(owner, None)
