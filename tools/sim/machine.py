"""Simulated ``machine`` module for host tests and the virtual board. NEVER UPLOAD THIS TO A BOARD.

Runs unchanged on CPython and on the MicroPython unix port (where this file replaces the
port's tiny built-in ``machine``). It follows the real ports where they differ, selected by
``sim.configure(port=...)`` ("esp32" | "esp32s3" | "esp32c3" | "rp2" | "rp2w"; default from
the MICROHTTP_SIM_PORT environment variable, else "esp32"):

- esp32*: ``Pin.irq`` has no ``hard=`` (TypeError), Timers are soft only, GPIO 34-39 are inputs;
  LEDC PWM has 8 (esp32) or 4 (s2/s3/c3) timers, one per distinct frequency
  ("out of PWM timers"), and starts at 5 kHz / 50 % unless told otherwise.
- rp2*: PWM slices: GPIO 2k/2k+1 share one frequency and GPIO n/n+16 are one channel;
  ``deinit()`` stops the slice; nothing runs until freq and duty are set. On "rp2w"
  ``Pin("LED")`` is the Wi-Fi chip's WL_GPIO0: no pulls, no IRQ, and
  ``PWM(Pin("LED"))`` raises ValueError("expecting a regular GPIO Pin").

Hard IRQ handlers run under ``micropython.heap_lock()`` (as on a board, where they cannot
allocate); soft ones go through ``micropython.schedule``. The back-plane ``sim`` drives inputs,
reads outputs and PWM, wires loopback jumpers and reports changes (see ``_Sim``).
"""

import micropython

try:
    import os

    _ENV_PORT = os.getenv("MICROHTTP_SIM_PORT")
except (ImportError, AttributeError):
    _ENV_PORT = None

_PORTS = ("esp32", "esp32s3", "esp32c3", "rp2", "rp2w")


def _gpios(*ranges):
    out = []
    for lo, hi in ranges:
        out.extend(range(lo, hi + 1))
    return out


_PORT_FACTS = {
    "esp32": {"gpio": _gpios((0, 19), (21, 23), (25, 27), (32, 39)), "input_only": _gpios((34, 39)),
              "timers": 8, "channels": 16, "freq": 160000000, "timer_ids": 4,
              "uid": b"\x24\x0a\xc4\x12\x34\x56", "machine": "Generic ESP32 module with ESP32"},
    "esp32s3": {"gpio": _gpios((0, 21), (26, 48)), "input_only": [], "timers": 4, "channels": 8,
                "freq": 160000000, "timer_ids": 4, "uid": b"\x34\x85\x18\x12\x34\x56",
                "machine": "Generic ESP32S3 module with ESP32S3"},
    "esp32c3": {"gpio": _gpios((0, 21)), "input_only": [], "timers": 4, "channels": 6,
                "freq": 160000000, "timer_ids": 2, "uid": b"\x58\xcf\x79\x12\x34\x56",
                "machine": "ESP32C3 module with ESP32C3"},
    "rp2": {"gpio": _gpios((0, 29)), "input_only": [], "freq": 125000000,
            "uid": b"\xe6\x61\x41\x04\x03\x12\x34\x56", "machine": "Raspberry Pi Pico with RP2040"},
    # Pico W: GPIO 23, 24, 25 and 29 run the CYW43 bus and are absent from pins.csv
    "rp2w": {"gpio": _gpios((0, 22), (26, 28)), "input_only": [], "freq": 125000000,
             "uid": b"\xe6\x61\x41\x04\x03\x65\x43\x21", "machine": "Raspberry Pi Pico W with RP2040"},
}


class ResetRequested(SystemExit):
    """Raised by machine.reset()/soft_reset()/deepsleep(): the virtual board catches it."""


def _is_rp2():
    return sim.port in ("rp2", "rp2w")


def _normalise(pin_id):
    """Map a pin id the way the port does; raise ValueError for a pin the port lacks."""
    if isinstance(pin_id, str):
        if pin_id == "BOOTSEL":
            if not _is_rp2():
                raise ValueError("invalid pin")
            return pin_id
        if pin_id == "LED" and sim.port == "rp2":
            return 25
        if pin_id in ("LED", "WL_GPIO0") and sim.port == "rp2w":
            return "LED"
        if pin_id.startswith("GPIO") or pin_id.startswith("GP"):
            digits = pin_id[4:] if pin_id.startswith("GPIO") else pin_id[2:]
            if digits.isdigit():
                return _normalise(int(digits))
        raise ValueError("unknown named pin \"%s\"" % pin_id)
    if isinstance(pin_id, int) and not isinstance(pin_id, bool) and pin_id in _PORT_FACTS[sim.port]["gpio"]:
        return pin_id
    raise ValueError("invalid pin")


class _PinState:
    def __init__(self, pin_id):
        self.id = pin_id
        self.mode = None
        self.pull = None
        self.out = 0
        self.ext = None  # level driven from outside (sim.set_input), None = not driven
        self.last = 0  # last level seen, for edge detection
        self.handler = None
        self.trigger = 0
        self.hard = False
        self.obj = None  # the Pin object handed to the IRQ handler
        self.pwm = None  # a _Channel while the pin outputs PWM
        self.pixels = None


class _Channel:
    """One PWM output: on rp2 shared by GPIO n and n+16 (same slice channel)."""

    def __init__(self, key):
        self.key = key
        self.freq = 0
        self.duty = 0
        self.running = False


class _Sim:
    """The simulation back-plane (``machine.sim``)."""

    Reset = ResetRequested

    def __init__(self):
        self.port = "esp32"
        self._listeners = []
        self.configure(_ENV_PORT if _ENV_PORT in _PORTS else "esp32")

    def configure(self, port=None):
        """Select the port and forget every pin, PWM, timer, jumper and listener."""
        if port is not None:
            if port not in _PORTS:
                raise ValueError("port must be one of " + ", ".join(_PORTS))
            self.port = port
        self.pins = {}
        self.connections = {}  # input pin id -> output pin id
        self.channels = {}  # rp2: (slice, ch) -> _Channel; esp32: pin id -> _Channel
        self.slice_freq = {}  # rp2: slice -> freq
        self.timers = []
        self.dropped_irqs = 0
        self.cpu_freq = _PORT_FACTS[self.port]["freq"]
        self._listeners = []
        return self

    reset = configure

    def machine_string(self):
        """What ``sys.implementation._machine`` says on the simulated port."""
        return _PORT_FACTS[self.port]["machine"]

    # --- pins -------------------------------------------------------------------------------

    def _pin(self, pin_id):
        state = self.pins.get(pin_id)
        if state is None:
            state = self.pins[pin_id] = _PinState(pin_id)
        return state

    def _compute(self, st):
        if st.pwm is not None and st.pwm.running:
            ch = st.pwm
            return 1 if ch.duty >= 32768 else 0
        if st.mode == Pin.OUT:
            return st.out
        src = self.connections.get(st.id)
        if src is not None:
            return self._compute(self._pin(src))
        if st.mode == Pin.OPEN_DRAIN and st.out == 0:
            return 0
        if st.ext is not None:
            return st.ext
        if st.pull == Pin.PULL_UP:
            return 1
        return 0

    def _refresh(self, pin_id, force_notify=False):
        st = self._pin(pin_id)
        level = self._compute(st)
        changed = level != st.last
        st.last = level
        if changed and st.handler is not None:
            rising = level == 1
            if st.trigger & (Pin.IRQ_RISING if rising else Pin.IRQ_FALLING):
                self._fire(st)
        if changed or force_notify:
            self._notify(pin_id, st)
            for inp, out in list(self.connections.items()):
                if out == pin_id:
                    self._refresh(inp, force_notify)

    def _fire(self, st):
        if st.hard:
            # a hard ISR cannot allocate on a board: make the simulated one fail the same way
            micropython.heap_lock()
            try:
                st.handler(st.obj)
            finally:
                micropython.heap_unlock()
            return
        try:
            micropython.schedule(st.handler, st.obj)
        except RuntimeError:  # the port ignores a full queue: the edge is lost
            self.dropped_irqs += 1
            return
        run = getattr(micropython, "run_scheduled", None)
        if run is not None:  # CPython shim: a board runs the queue between bytecodes
            run()

    def set_input(self, pin_id, level):
        """Drive a pin from outside (a finger, a sensor); fires IRQs on edges."""
        pin_id = _normalise(pin_id)
        self._pin(pin_id).ext = None if level is None else (1 if level else 0)
        self._refresh(pin_id)

    def level(self, pin_id):
        """What the pin shows: the output it drives, or its input level."""
        pin_id = _normalise(pin_id)
        return self._compute(self._pin(pin_id))

    def pwm_state(self, pin_id):
        """{"freq", "duty_u16"} while the pin outputs PWM, else None."""
        st = self.pins.get(_normalise(pin_id))
        if st is None or st.pwm is None or not st.pwm.running:
            return None
        return {"freq": st.pwm.freq, "duty_u16": st.pwm.duty}

    def pixels(self, pin_id):
        """Colours last written to addressable LEDs on the pin (neopixel shim), or None."""
        st = self.pins.get(_normalise(pin_id))
        return None if st is None or st.pixels is None else list(st.pixels)

    def _set_pixels(self, pin_id, colours):
        st = self._pin(pin_id)
        st.pixels = tuple(colours)
        self._notify(pin_id, st)

    def connect(self, out_pin, in_pin):
        """A loopback jumper: ``in_pin`` follows ``out_pin`` (levels and PWM)."""
        out_pin = _normalise(out_pin)
        in_pin = _normalise(in_pin)
        self.connections[in_pin] = out_pin
        self._refresh(in_pin, True)

    def disconnect(self, in_pin):
        in_pin = _normalise(in_pin)
        self.connections.pop(in_pin, None)
        self._refresh(in_pin, True)

    def _describe(self, pin_id, st):
        modes = {Pin.IN: "in", Pin.OUT: "out", Pin.OPEN_DRAIN: "open_drain"}
        pulls = {Pin.PULL_UP: "up", Pin.PULL_DOWN: "down"}
        info = {
            "mode": modes.get(st.mode),
            "pull": pulls.get(st.pull),
            "level": self._compute(st),
            "pwm": None,
            "irq": st.handler is not None,
        }
        if st.pwm is not None and st.pwm.running:
            info["pwm"] = {"freq": st.pwm.freq, "duty_u16": st.pwm.duty}
        if st.pixels is not None:
            info["pixels"] = [list(c) for c in st.pixels]
        return info

    def snapshot(self):
        """JSON-ready view of every pin the firmware or the sim touched."""
        pins = {}
        for pin_id, st in self.pins.items():
            pins[str(pin_id)] = self._describe(pin_id, st)
        return {
            "port": self.port,
            "pins": pins,
            "connections": [[out, inp] for inp, out in self.connections.items()],
            "dropped_irqs": self.dropped_irqs,
        }

    def on_change(self, callback):
        """``callback(pin_id, info)`` after any level, PWM or pixel change; returns unsubscribe."""
        listeners = self._listeners
        listeners.append(callback)

        def unsubscribe():
            for i in range(len(listeners)):
                if listeners[i] is callback:
                    del listeners[i]
                    return

        return unsubscribe

    def _notify(self, pin_id, st):
        if self._listeners:
            info = self._describe(pin_id, st)
            for callback in tuple(self._listeners):
                callback(pin_id, info)

    def _pwm_changed(self, channel):
        for pin_id, st in list(self.pins.items()):
            if st.pwm is channel:
                self._refresh(pin_id, True)

    # --- timers -----------------------------------------------------------------------------

    def advance_timers(self, ms):
        """Let ``ms`` of timer time pass, firing Timer callbacks that fall due."""
        for timer in list(self.timers):
            timer._advance(ms)


sim = _Sim()


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None, drive=None, alt=None):
        self._id = _normalise(id)
        if self._id == "BOOTSEL":
            raise ValueError("invalid pin")
        self._st = sim._pin(self._id)
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None, drive=None, alt=None):
        st = self._st
        facts = _PORT_FACTS[sim.port]
        if mode != -1 and mode is not None:
            if mode not in (Pin.IN, Pin.OUT, Pin.OPEN_DRAIN):
                raise ValueError("invalid pin mode")
            if mode != Pin.IN and self._id in facts["input_only"]:
                raise ValueError("pin can only be input")
            st.mode = mode
            if st.pwm is not None:  # re-initialising a pin gives it back to GPIO
                st.pwm = None
        if pull != -1:
            if pull is not None and self._id == "LED":
                raise ValueError("pulls are not supported for external pins")
            # ESP32 GPIO34-39 have no pull resistors: the port ignores the request silently
            st.pull = None if self._id in facts["input_only"] else pull
        if value is not None:
            st.out = 1 if value else 0
        st.obj = self
        sim._refresh(self._id)

    def value(self, v=None):
        st = self._st
        if v is None:
            return sim._compute(st)
        st.out = 1 if v else 0
        sim._refresh(self._id)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def toggle(self):
        self.value(1 - self._st.out)

    def mode(self, mode=None):
        if mode is None:
            return self._st.mode
        self.init(mode)
        return None

    def pull(self, pull=-1):
        if pull == -1:
            return self._st.pull
        self.init(pull=pull)
        return None

    def irq(self, handler=None, trigger=3, priority=1, wake=None, hard=None):
        if hard is not None and not _is_rp2():
            # esp32's Pin.irq() has no hard= argument: every pin IRQ is scheduled (soft)
            raise TypeError("unexpected keyword argument 'hard'")
        if self._id == "LED":
            raise ValueError("IRQs are not supported for external pins")
        st = self._st
        st.handler = handler
        st.trigger = trigger if handler is not None else 0
        st.hard = bool(hard)
        st.obj = self
        st.last = sim._compute(st)
        return _Irq(st)

    def __repr__(self):
        return "Pin(%s)" % (self._id,)


class _Irq:
    def __init__(self, st):
        self._st = st

    def trigger(self):
        return self._st.trigger

    def flags(self):
        return 0


class Signal:
    def __init__(self, pin, *args, invert=False, **kwargs):
        if not isinstance(pin, Pin):
            pin = Pin(pin, *args, **kwargs)
        self._pin = pin
        self._invert = bool(invert)

    def value(self, v=None):
        if v is None:
            return self._pin.value() ^ self._invert
        self._pin.value((1 if v else 0) ^ self._invert)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


def _rp2_channel(gpio):
    if gpio < 32:
        return ((gpio >> 1) & 7, gpio & 1)
    return (8 + ((gpio - 32) >> 1), gpio & 1)


class PWM:
    """machine.PWM with the resource rules of the selected port."""

    def __init__(self, dest, freq=None, duty_u16=None, duty_ns=None, invert=False, duty=None):
        pin = dest if isinstance(dest, Pin) else Pin(dest, Pin.OUT)
        if pin._id == "LED" or pin._id == "BOOTSEL":
            raise ValueError("expecting a regular GPIO Pin")
        if pin._id in _PORT_FACTS[sim.port]["input_only"]:
            raise ValueError("pin can only be input")
        self._pin = pin
        self._id = pin._id
        self._ch = None
        self._attach()
        if _is_rp2():
            if freq is None:
                freq = sim.slice_freq.get(_rp2_channel(self._id)[0], 1907)  # top 65535 at 125 MHz
        else:
            if freq is None:
                freq = 5000  # LEDC default: 5 kHz...
            if duty_u16 is None and duty_ns is None and duty is None:
                duty_u16 = 32768  # ...at 50 %: why re-creating a PWM object glitches an output
        self.init(freq=freq, duty_u16=duty_u16, duty_ns=duty_ns, duty=duty)

    def _attach(self):
        st = self._pin._st
        if _is_rp2():
            key = _rp2_channel(self._id)
        else:
            key = self._id
            if key not in sim.channels and len(sim.channels) >= _PORT_FACTS[sim.port]["channels"]:
                raise ValueError("out of PWM channels:%d" % _PORT_FACTS[sim.port]["channels"])
        ch = sim.channels.get(key)
        if ch is None:
            ch = sim.channels[key] = _Channel(key)
        self._ch = ch
        st.pwm = ch

    def init(self, freq=None, duty_u16=None, duty_ns=None, invert=False, duty=None):
        if self._ch is None or self._pin._st.pwm is not self._ch:
            self._attach()
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)
        elif duty_ns is not None:
            self.duty_ns(duty_ns)
        elif duty is not None:
            self.duty(duty)
        if not _is_rp2() or (self._ch.freq and (duty_u16 is not None or duty_ns is not None)):
            self._ch.running = True
        sim._pwm_changed(self._ch)

    def deinit(self):
        ch = self._ch
        if ch is None:
            return
        if _is_rp2():
            # deinit stops the whole slice: both channels
            slice_no = ch.key[0]
            for key, other in sim.channels.items():
                if key[0] == slice_no:
                    other.running = False
                    sim._pwm_changed(other)
        else:
            ch.running = False
            sim.channels.pop(ch.key, None)
            sim._pwm_changed(ch)
        self._pin._st.pwm = None
        self._ch = None

    def freq(self, value=None):
        ch = self._ch
        if value is None:
            return ch.freq
        if _is_rp2():
            if not 8 <= value <= 62500000:
                raise ValueError("freq too small" if value < 8 else "freq too large")
            slice_no = ch.key[0]
            sim.slice_freq[slice_no] = value
            for key, other in sim.channels.items():
                if key[0] == slice_no:  # the slice's other channel changes frequency too
                    other.freq = value
                    sim._pwm_changed(other)
            return None
        if not 1 <= value <= 40000000:
            raise ValueError("frequency must be from 1Hz to 40MHz")
        if value != ch.freq:
            in_use = set()
            for other in sim.channels.values():
                if other is not ch and other.running:
                    in_use.add(other.freq)
            if value not in in_use and len(in_use) >= _PORT_FACTS[sim.port]["timers"]:
                raise RuntimeError("out of PWM timers:%d" % _PORT_FACTS[sim.port]["timers"])
        ch.freq = value
        sim._pwm_changed(ch)
        return None

    def duty_u16(self, value=None):
        ch = self._ch
        if value is None:
            return ch.duty
        if not 0 <= value <= 65535:
            raise ValueError("duty_u16 must be from 0 to 65535")
        ch.duty = int(value)
        if ch.freq:
            ch.running = True
        sim._pwm_changed(ch)
        return None

    def duty_ns(self, value=None):
        ch = self._ch
        period = 1000000000 // ch.freq
        if value is None:
            return ch.duty * period // 65535
        self.duty_u16(min(65535, value * 65535 // period))
        return None

    def duty(self, value=None):
        if _is_rp2():
            raise AttributeError("duty")  # rp2 has only duty_u16/duty_ns
        if value is None:
            return self._ch.duty * 1023 // 65535
        self.duty_u16(value * 65535 // 1023)
        return None

    def __repr__(self):
        return "PWM(Pin(%s), freq=%d, duty_u16=%d)" % (self._id, self._ch.freq, self._ch.duty)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kwargs):
        if sim.port.startswith("esp32"):
            if not 0 <= id < _PORT_FACTS[sim.port]["timer_ids"]:
                raise ValueError("invalid Timer number")
        elif id != -1:
            raise ValueError("Timer doesn't exist")  # rp2: virtual timers only
        self.id = id
        self._callback = None
        if kwargs:
            self.init(**kwargs)

    def init(self, mode=PERIODIC, period=-1, freq=-1, callback=None, hard=None, tick_hz=1000):
        if hard and sim.port.startswith("esp32"):
            raise ValueError("hard Timer not supported")  # esp32 hardware timers are soft only
        if freq > 0:
            period = max(1, 1000 // freq)
        self._period = period if period > 0 else 1000
        self._mode = mode
        self._callback = callback
        self._hard = bool(hard)
        self._elapsed = 0
        if self not in sim.timers:
            sim.timers.append(self)

    def _advance(self, ms):
        if self._callback is None:
            return
        self._elapsed += ms
        while self._callback is not None and self._elapsed >= self._period:
            self._elapsed -= self._period
            callback = self._callback
            if self._mode == Timer.ONE_SHOT:
                self.deinit()
            if self._hard:
                micropython.heap_lock()
                try:
                    callback(self)
                finally:
                    micropython.heap_unlock()
            else:
                callback(self)

    def deinit(self):
        self._callback = None
        if self in sim.timers:
            sim.timers.remove(self)


def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    """Length of the next pulse at ``pulse_level`` on ``pin``, from the PWM feeding it.

    -2: timed out waiting for the pulse to start; -1: timed out during the pulse (real API).
    """
    st = pin._st if isinstance(pin, Pin) else sim._pin(_normalise(pin))
    src = st
    seen = 0
    while src.id in sim.connections and seen < 8:  # follow the jumper to the driving pin
        src = sim._pin(sim.connections[src.id])
        seen += 1
    ch = src.pwm
    if ch is not None and ch.running and 0 < ch.duty < 65535 and ch.freq:
        period_us = 1000000 / ch.freq
        high = period_us * ch.duty / 65536
        length = int(high if pulse_level else period_us - high)
        return length if length <= timeout_us else -1
    level = sim._compute(st)
    return -1 if level == pulse_level else -2


def unique_id():
    return _PORT_FACTS[sim.port]["uid"]


def freq(value=None):
    if value is None:
        return sim.cpu_freq
    if sim.port.startswith("esp32") and value not in (20000000, 40000000, 80000000, 160000000, 240000000):
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    sim.cpu_freq = value
    return None


def reset():
    raise ResetRequested("machine.reset()")


def soft_reset():
    raise ResetRequested("machine.soft_reset()")


def deepsleep(ms=0):
    raise ResetRequested("machine.deepsleep()")


def lightsleep(ms=0):
    return None


def idle():
    return None


PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


def reset_cause():
    return PWRON_RESET


def disable_irq():
    return 0


def enable_irq(state=0):
    return None
