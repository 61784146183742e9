# LED driver: on/off/toggle, brightness through a perceptual curve, and non-blocking patterns
# with a crossfade from the previous pattern (lws's LED sequencer model: a pattern is a
# function of phase; a transition mixes old*(1-m) + new*m, then the new one replaces the old).
#
# The core is sans-I/O: level_at(now_ms) computes the 16-bit level the LED should show and
# tick(now_ms) writes it. start() adds one task that ticks every frame_ms while something
# moves and sleeps on an Event otherwise. Outputs are small adapters so the same logic drives
# a plain Pin (threshold), a PWM channel (16-bit duty) or one addressable pixel.
from microhttp.compat import ticks_diff

from drivers import curves
from drivers.device import AnimatedDevice, field

_FULL = curves.FULL
_ONE = curves.ONE

PATTERNS = ("off", "blink", "pulse", "heartbeat")
# Default periods: lws's endless sine runs 1.5 s; a 1 s blink and a 1.2 s (50 bpm) heartbeat.
DEFAULT_PERIOD_MS = {"off": 1000, "blink": 1000, "pulse": 1500, "heartbeat": 1200}
# Pattern switches crossfade over 300 ms, lws's wipe/sine-up transition length.
DEFAULT_TRANSITION_MS = 300


def pattern_level(pattern, phase):
    """Level 0..65535 of ``pattern`` at ``phase`` (0..65535 = one period)."""
    if pattern == "blink":
        return _FULL if phase < 32768 else 0
    if pattern == "pulse":
        return curves.lookup(curves.RAISED_COSINE, phase)
    if pattern == "heartbeat":
        # two short beats (12 % of the period each, 12 % apart), then rest
        return _FULL if phase < 7864 or 15729 <= phase < 23593 else 0
    return _FULL


class PinOutput:
    """On/off LED on a Pin or Signal; lit while the level is at least half the brightness."""

    dimmable = False

    def __init__(self, pin, active_low=False):
        self.pin = pin
        self.active_low = active_low

    def write(self, level, brightness):
        lit = level > 0 and level * 2 >= brightness
        self.pin.value(lit != self.active_low)

    def release(self):
        self.pin.value(1 if self.active_low else 0)


class PwmOutput:
    """Dimmable LED on a PWM channel: 16-bit duty through the perceptual curve."""

    dimmable = True

    def __init__(self, pwm, active_low=False, curve="cie"):
        self.pwm = pwm
        self.active_low = active_low
        self.table = curves.CURVES[curve]

    def write(self, level, brightness):
        duty = curves.lookup(self.table, level)
        self.pwm.duty_u16(_FULL - duty if self.active_low else duty)

    def release(self):
        self.pwm.duty_u16(_FULL if self.active_low else 0)
        self.pwm.deinit()


class PixelOutput:
    """One addressable RGB pixel (e.g. neopixel.NeoPixel); ``color`` is (r, g, b) 0..255."""

    dimmable = True

    def __init__(self, pixels, index=0, color=(255, 255, 255), curve="cie"):
        self.pixels = pixels
        self.index = index
        self.color = color
        self.table = curves.CURVES[curve]

    def write(self, level, brightness):
        scale = curves.lookup(self.table, level)
        r, g, b = self.color
        self.pixels[self.index] = ((r * scale) // _FULL, (g * scale) // _FULL, (b * scale) // _FULL)
        self.pixels.write()

    def release(self):
        self.pixels[self.index] = (0, 0, 0)
        self.pixels.write()


class Led(AnimatedDevice):
    """An LED: give it a Pin (on/off), a PWM (dimmable) or any output adapter above."""

    kind = "led"
    COMMANDS = (
        field("on", "bool", "switch on or off (off also stops a pattern)"),
        field("toggle", "true", "flip on/off"),
        field("brightness", "number", "perceived brightness", min=0, max=1),
        field("pattern", "choice", "animation; off = steady", values=PATTERNS),
        field("period_ms", "int", "pattern period", min=100, max=60000),
        field("transition_ms", "int", "crossfade length (default: 300 for a pattern change, else 0)",
              min=0, max=10000),
        field("step", "number", "brightness up or down by this much, as a dimmer button does: from off, up "
              "from 0 and on; down to 0 or below, off", min=-1, max=1),
    )
    EXCLUSIVE = (("on", "toggle", "step"), ("brightness", "step"))
    EVENTS = ("state",)
    ON_COMMAND = {"on": True}

    def __init__(self, name, pin=None, pwm=None, output=None, active_low=False, curve="cie",
                 brightness=1.0, frame_ms=20, label=None, clock=None):
        super().__init__(name, label, clock, frame_ms)
        if output is None:
            if pwm is not None:
                output = PwmOutput(pwm, active_low, curve)
            elif pin is not None:
                output = PinOutput(pin, active_low)
            else:
                raise ValueError("Led needs a pin, a pwm or an output")
        self.output = output
        now = self.clock()
        # current "program": on, brightness (0..65535), pattern, period, phase origin
        self._on = False
        self._brightness = int(brightness * _FULL + 0.5)
        self._pattern = "off"
        self._period = DEFAULT_PERIOD_MS["off"]
        self._t0 = now
        self._from = None  # program being faded out: (on, brightness, pattern, period, t0)
        self._fade_t0 = now
        self._fade_ms = 0
        self._written = -1
        self.tick(now)

    # --- sans-I/O core --------------------------------------------------------------------

    @staticmethod
    def _program_level(on, brightness, pattern, period, t0, now):
        if not on:
            return 0
        if pattern == "off":
            return brightness
        elapsed = ticks_diff(now, t0)
        if elapsed < 0:
            elapsed = 0
        phase = ((elapsed % period) * _ONE) // period
        return (pattern_level(pattern, phase) * brightness) // _FULL

    def level_at(self, now):
        """The linear level 0..65535 shown at ``now`` (before the perceptual curve)."""
        new = self._program_level(self._on, self._brightness, self._pattern, self._period,
                                  self._t0, now)
        old = self._from
        if old is None:
            return new
        p = curves.progress(ticks_diff(now, self._fade_t0), self._fade_ms)
        if p >= _ONE:
            return new
        return curves.mix(self._program_level(old[0], old[1], old[2], old[3], old[4], now), new, p)

    def animating(self, now):
        if self._from is not None and ticks_diff(now, self._fade_t0) < self._fade_ms:
            return True
        return self._on and self._pattern != "off"

    def tick(self, now=None):
        """Write the level for ``now``; writes only when it changed. Returns the level."""
        if now is None:
            now = self.clock()
        if self._from is not None and ticks_diff(now, self._fade_t0) >= self._fade_ms:
            self._from = None  # transition over: the new program replaces the old one
        level = self.level_at(now)
        if level != self._written:
            self._written = level
            self.output.write(level, self._brightness)
        return level

    # --- commands -------------------------------------------------------------------------

    def _apply(self, f, now):
        on = self._on
        brightness = self._brightness
        pattern = self._pattern
        period = self._period
        if "toggle" in f:
            on = not on
            if not on:
                pattern = "off"
        if "on" in f:
            on = f["on"]
            if not on:
                pattern = "off"
        if "brightness" in f:
            brightness = int(f["brightness"] * _FULL + 0.5)
        if "step" in f:
            # As a dimmer does (and Home Assistant's brightness_step): a lamp that is off
            # counts as 0; a step that ends at 0 or below switches it off and keeps the
            # brightness it had for the next time it is switched on.
            level = (brightness if on else 0) + int(f["step"] * _FULL)
            if level <= 0:
                on = False
                pattern = "off"
            else:
                on = True
                brightness = min(level, _FULL)
        if "pattern" in f:
            pattern = f["pattern"]
            if pattern != "off":
                on = True
            if "period_ms" not in f and pattern != self._pattern:
                period = DEFAULT_PERIOD_MS[pattern]
        if "period_ms" in f:
            period = f["period_ms"]
        changed_pattern = pattern != self._pattern or period != self._period
        transition = f.get("transition_ms", DEFAULT_TRANSITION_MS if changed_pattern else 0)
        if not self.output.dimmable:
            transition = 0  # an on/off LED cannot show a fade: switch at once
        if transition > 0:
            if self._from is not None and ticks_diff(now, self._fade_t0) < self._fade_ms:
                # already mid-fade: fade on from the mixed level showing now, held steady
                self._from = (True, self.level_at(now), "off", self._period, now)
            else:
                # fade out the old program as it runs on
                self._from = (self._on, self._brightness, self._pattern, self._period, self._t0)
            self._fade_t0 = now
            self._fade_ms = transition
        else:
            self._from = None
        if changed_pattern:
            self._t0 = now
        self._on = on
        self._brightness = brightness
        self._pattern = pattern
        self._period = period
        self.tick(now)
        self.wake()

    def state(self):
        return {
            "on": self._on,
            "brightness": round(self._brightness / _FULL, 4),
            "pattern": self._pattern,
            "period_ms": self._period,
            "level": round(self._written / _FULL, 4),
            "dimmable": self.output.dimmable,
        }

    def restore_command(self):
        brightness = round(self._brightness / _FULL, 4)
        if not self._on:
            return {"on": False, "brightness": brightness}  # its brightness for the next "on"
        command = {"on": True, "brightness": brightness, "transition_ms": 0}  # type: dict
        if self._pattern != "off":
            command["pattern"] = self._pattern
            command["period_ms"] = self._period
        return command

    def __call__(self):
        return self._on

    def _release(self):
        super()._release()
        self.output.release()
