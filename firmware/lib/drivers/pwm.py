# PWM output driver: frequency, duty (fraction, u16 or ns), fades with easing and sequences of
# fades. The core is sans-I/O: a fade is (from, to, start, ms, easing) and tick(now_ms) writes
# the duty for that instant; the last step writes the target itself, so a ramp ends exactly on
# it whatever the frame timing was. Port limits (timers, slices) are checked through a PwmPlan
# before anything changes, and an error the port raises anyway becomes a CommandError.

from microhttp.compat import ticks_add, ticks_diff

from drivers import curves
from drivers.device import AnimatedDevice, CommandError, field

_FULL = curves.FULL
MAX_STEPS = 16  # bound a sequence before storing it
_STEP_FIELDS = (
    field("to", "number", "target duty", min=0, max=1),
    field("ms", "int", "duration", min=0, max=600000),
    field("easing", "choice", "curve of the change", values=curves.EASING_NAMES, default="linear"),
)


_schemas = {}  # type: dict # freq range -> command schema, built once and shared per port


def _commands(freq_range):
    key = (freq_range[0], freq_range[1])
    schema = _schemas.get(key)
    if schema is None:
        schema = _schemas[key] = (
            field("duty", "number", "duty cycle as a fraction", min=0, max=1),
            field("duty_u16", "int", "duty cycle, 16 bits", min=0, max=_FULL),
            field("duty_ns", "int", "high time per period", min=0, max=1000000000, unit="ns"),
            field("freq", "int", "frequency", min=key[0], max=key[1], unit="Hz"),
            field("fade", "object", "change duty gradually", fields=_STEP_FIELDS, required=("to", "ms")),
            field("sequence", "object", "fades one after another",
                  fields=(field("steps", "list", "the fades", item={"type": "object", "fields": _STEP_FIELDS,
                                                                     "required": ("to", "ms")},
                                max_items=MAX_STEPS),
                          field("repeat", "int", "extra passes (-1 = forever)", min=-1, max=100000,
                                default=0)),
                  required=("steps",)),
            field("stop", "true", "stop a fade or sequence where it is"),
        )
    return schema


class PwmOut(AnimatedDevice):
    """A PWM output (fan, dimmer, buzzer...) on a machine.PWM object."""

    kind = "pwm"
    EVENTS = ("state",)
    ON_COMMAND = {"duty": 1.0}

    def __init__(self, name, pwm, freq=1000, duty=0.0, invert=False, plan=None, freq_range=(1, 40000000),
                 frame_ms=20, label=None, clock=None):
        super().__init__(name, label, clock, frame_ms)
        self.pwm = pwm
        self.invert = invert
        self.plan = plan
        if plan is not None:
            freq_range = plan.freq_range()
        self.freq_range = freq_range
        self.COMMANDS = _commands(freq_range)
        self._freq = freq
        self._duty = int(duty * _FULL + 0.5)
        self._ramp = None  # [from, to, t0, ms, easing name]
        self._steps = []  # (to_u16, ms, easing) per step while a sequence runs
        self._step = 0
        self._passes_left = 0
        self._write()

    EXCLUSIVE = (("duty", "duty_u16", "duty_ns", "fade", "sequence", "stop"),)

    # --- sans-I/O core --------------------------------------------------------------------

    def _write(self):
        self.pwm.duty_u16(_FULL - self._duty if self.invert else self._duty)

    def period_ns(self, freq=None):
        return 1000000000 // (freq or self._freq)

    def _start_ramp(self, to, ms, easing, t0):
        self._ramp = [self._duty, to, t0, ms, easing]

    def tick(self, now=None):
        """Advance a fade or sequence to ``now`` and write the duty. Returns the duty (u16)."""
        if now is None:
            now = self.clock()
        ramp = self._ramp
        while ramp is not None:
            start, to, t0, ms, easing = ramp
            elapsed = ticks_diff(now, t0)
            if elapsed < ms:
                p = curves.EASINGS[easing](curves.progress(elapsed, ms))
                self._duty = curves.mix(start, to, p)
                break
            self._duty = to  # the ramp ends exactly on its target
            ramp = self._ramp = None
            if self._steps:
                ramp = self._next_step(ticks_add(t0, ms))
            if ramp is None:
                self._write()
                self._emit("state", self.state())
                return self._duty
        self._write()
        return self._duty

    def _next_step(self, t0):
        self._step += 1
        if self._step >= len(self._steps):
            if self._passes_left == 0:
                self._steps = []
                return None
            if self._passes_left > 0:
                self._passes_left -= 1
            self._step = 0
        to, ms, easing = self._steps[self._step]
        self._start_ramp(to, ms, easing, t0)  # next step starts when the last one ended: no drift
        return self._ramp

    def animating(self, now):
        return self._ramp is not None

    # --- commands -------------------------------------------------------------------------

    def _apply(self, f, now):
        freq = self._freq
        if "freq" in f:
            freq = f["freq"]
            if self.plan is not None:
                try:
                    self.plan.check_freq(self.name, freq)
                except ValueError as exc:
                    raise CommandError("freq", str(exc))
        duty = None
        if "duty" in f:
            duty = int(f["duty"] * _FULL + 0.5)
        elif "duty_u16" in f:
            duty = f["duty_u16"]
        elif "duty_ns" in f:
            period = self.period_ns(freq)
            if f["duty_ns"] > period:
                raise CommandError("duty_ns", "must be between 0 and %d (one period at %d Hz)" % (period, freq))
            duty = (f["duty_ns"] * _FULL + period // 2) // period
        if "sequence" in f and f["sequence"]["repeat"] != 0:
            if not sum(s["ms"] for s in f["sequence"]["steps"]):
                raise CommandError("sequence.repeat", "a repeating sequence needs a duration above 0 ms")
        # everything is valid: from here on, change things
        if freq != self._freq:
            try:
                self.pwm.freq(freq)
            except (ValueError, RuntimeError) as exc:  # the port's own limit, e.g. no free timer
                raise CommandError("freq", str(exc))
            self._freq = freq
            if self.plan is not None:
                self.plan.set_freq(self.name, freq)
        if duty is not None or "stop" in f:
            self._ramp = None
            self._steps = []
        if duty is not None:
            self._duty = duty
        if "fade" in f:
            fade = f["fade"]
            self._steps = []
            self._start_ramp(int(fade["to"] * _FULL + 0.5), fade["ms"], fade["easing"], now)
        if "sequence" in f:
            seq = f["sequence"]
            self._steps = [(int(s["to"] * _FULL + 0.5), s["ms"], s["easing"]) for s in seq["steps"]]
            self._passes_left = seq["repeat"]
            self._step = 0
            to, ms, easing = self._steps[0]
            self._start_ramp(to, ms, easing, now)
        self._write()  # re-apply duty after a frequency change: ports differ in what they keep
        if self._ramp is not None:
            self.tick(now)
            self.wake()

    def state(self):
        ramp = self._ramp
        return {
            "freq": self._freq,
            "duty": round(self._duty / _FULL, 4),
            "duty_u16": self._duty,
            "duty_ns": (self._duty * self.period_ns() + _FULL // 2) // _FULL,
            "fading": ramp is not None,
            "target": None if ramp is None else round(ramp[1] / _FULL, 4),
            "sequence": bool(self._steps),
        }

    def restore_command(self):
        # A fade or a sequence is kept as the duty it ends on (one repeating for ever: its
        # last step's).
        if self._steps:
            duty = self._steps[-1][0]
        elif self._ramp is not None:
            duty = self._ramp[1]
        else:
            duty = self._duty
        return {"freq": self._freq, "duty_u16": duty}

    def __call__(self):
        return self._duty / _FULL

    def _release(self):
        super()._release()
        self._ramp = None
        self._steps = []
        if self.plan is not None:
            self.plan.release(self.name)
        try:
            self.pwm.duty_u16(_FULL if self.invert else 0)
            self.pwm.deinit()
        except (ValueError, OSError):
            pass


# --- port limits -----------------------------------------------------------------------------


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

    def __init__(self, chip, rules=None):
        if rules is None:
            from drivers.chips import CHIPS

            rules = CHIPS[chip]["pwm"]
        self.chip = chip
        self.rules = rules
        self.users = {}  # type: dict # owner -> [gpio, freq]

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
