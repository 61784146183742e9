# Button driver: stable-for-N-ms debounce and click classification (press, release, click,
# double_click, long_press, repeat), after lws's button controller, Hinch's EButton and
# OneButton; the button tests run each one's default timings.
#
# Why poll by default: ESP32 pin IRQs are soft only; every edge goes through
# mp_sched_schedule, whose queue is 8 deep and whose overflow is ignored, so a bouncing contact
# silently drops edges and an IRQ-driven state machine can miss the final one. Polling every
# poll_ms cannot lose the level. Where hard IRQs exist (rp2) mode="irq" sleeps on a
# ThreadSafeFlag while idle and polls only while a gesture is in progress (lws's monitor timer
# runs only while a button is active), and the hard handler counts edges so chatter between
# two polls still restarts the debounce window.
#
# ButtonLogic is sans-I/O: update(active, now_ms, edges) is the whole state machine, so tests
# feed it exact timings on both runtimes. Gesture times are measured between debounced edges.
#
# Defaults (anchors: Hinch / lws / OneButton):
#   debounce_ms 20   lws's ms_min_down and ms_up_settle; covers the typical 1-20 ms bounce,
#                    shorter than the 50 ms windows of Hinch and OneButton so presses feel quick
#   poll_ms 10       two polls inside one debounce window (research: poll every 10-20 ms)
#   long_ms 800      OneButton's press_ms, between lws's 300 ms and Hinch's 1000 ms
#   double_ms 400    Hinch and OneButton (lws's 120 ms grace needs a fast finger)
#   repeat_ms 0      off, as lws's ms_repeat_down; a board may enable it
import asyncio

from microhttp.compat import sleep_ms, ticks_add, ticks_diff

from drivers.device import Device

IDLE = 0  # released, no gesture in progress
DOWN = 1  # first press held, not yet long
LONG = 2  # held past long_ms: repeat may run
WAIT = 3  # released after a short press: a second press within double_ms is a double click
DOWN2 = 4  # second press of a double click held

DEFAULTS = {"debounce_ms": 20, "poll_ms": 10, "long_ms": 800, "double_ms": 400, "repeat_ms": 0}


class ButtonLogic:
    """The debounce + gesture state machine; ``emit(event, data)`` receives the events."""

    def __init__(self, emit, debounce_ms=20, long_ms=800, double_ms=400, repeat_ms=0):
        self.emit = emit
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.double_ms = double_ms
        self.repeat_ms = repeat_ms
        self.pressed = False  # the debounced level
        self._candidate = False
        self._candidate_t = 0
        self.phase = IDLE
        self._t = 0  # time of the last debounced edge
        self._next_repeat = 0
        self.repeats = 0

    def start(self, active):
        """Begin at the contact's present level, settled: a button held at boot is pressed,
        with no press event for it."""
        self.pressed = self._candidate = active

    def busy(self):
        """True while the state machine needs more updates to finish (debounce or gesture)."""
        return self.phase != IDLE or self._candidate != self.pressed

    def update(self, active, now, edges=0):
        """One sample: ``active`` is the raw logical level; ``edges`` counts edges since the last."""
        if edges or active != self._candidate:
            self._candidate = active
            self._candidate_t = now
        self._timers(now)
        if self._candidate != self.pressed and ticks_diff(now, self._candidate_t) >= self.debounce_ms:
            self.pressed = self._candidate
            if self.pressed:
                self._on_press(now)
            else:
                self._on_release(now)

    def _timers(self, now):
        phase = self.phase
        if phase == DOWN:
            if self.long_ms and ticks_diff(now, self._t) >= self.long_ms:
                self.phase = LONG
                self.emit("long_press", {"duration_ms": ticks_diff(now, self._t)})
                self._next_repeat = ticks_add(self._t, self.long_ms + self.repeat_ms)
        elif phase == LONG:
            if self.repeat_ms and ticks_diff(now, self._next_repeat) >= 0:
                self.repeats += 1
                self.emit("repeat", {"count": self.repeats})
                self._next_repeat = ticks_add(self._next_repeat, self.repeat_ms)
                if ticks_diff(now, self._next_repeat) >= 0:
                    self._next_repeat = ticks_add(now, self.repeat_ms)  # late poll: no burst of catch-ups
        elif phase == WAIT:
            if ticks_diff(now, self._t) >= self.double_ms:
                self.phase = IDLE
                self.emit("click", {})

    def _on_press(self, now):
        second = self.phase == WAIT
        self._t = now
        self.repeats = 0
        self.phase = DOWN2 if second else DOWN
        self.emit("press", {})
        if second:
            self.emit("double_click", {})

    def _on_release(self, now):
        held = ticks_diff(now, self._t)
        short = self.phase == DOWN
        self._t = now
        self.emit("release", {"duration_ms": held})
        if short and self.double_ms:
            self.phase = WAIT
        else:
            self.phase = IDLE
            if short:
                self.emit("click", {})


class BootselPin:
    """RP2's BOOTSEL switch as a pin-like object: ``value()`` is 1 while pressed.

    rp2.bootsel_button() reads QSPI_SS with interrupts and core 1 paused for ~8 us, so it can
    only be polled, never used with an IRQ.
    """

    def __init__(self):
        try:
            import rp2  # type: ignore
        except ImportError:
            raise ValueError("BOOTSEL exists only on RP2 boards")
        self._read = rp2.bootsel_button

    def value(self):
        return self._read()


class Button(Device):
    """A debounced push button on a Pin (or BootselPin); emits press ... repeat events."""

    kind = "button"
    EVENTS = ("state", "press", "release", "click", "double_click", "long_press", "repeat")

    def __init__(self, name, pin, active_low=True, mode="poll", poll_ms=10, debounce_ms=20,
                 long_ms=800, double_ms=400, repeat_ms=0, label=None, clock=None, irq_trigger=None):
        super().__init__(name, label, clock)
        if mode not in ("poll", "irq"):
            raise ValueError("mode must be 'poll' or 'irq'")
        self.pin = pin
        self.active_low = active_low
        self.mode = mode
        self.poll_ms = poll_ms
        self.logic = ButtonLogic(self._event, debounce_ms, long_ms, double_ms, repeat_ms)
        self.presses = 0
        self.last_event = None
        self._edges = 0  # incremented by the hard IRQ handler; small int, no allocation
        self._edges_seen = 0
        self._flag = asyncio.ThreadSafeFlag()
        self._irq_trigger = irq_trigger
        self._irq_on = False
        self.logic.start(self.active())

    def active(self):
        """The raw (undebounced) logical level: True while the contact is closed."""
        return (self.pin.value() == 0) == self.active_low

    def __call__(self):
        return self.logic.pressed

    def poll(self, now=None):
        """Sample the pin once and run the state machine (the polling task calls this)."""
        if now is None:
            now = self.clock()
        edges = self._edges
        changed = edges - self._edges_seen
        self._edges_seen = edges
        self.logic.update(self.active(), now, changed)

    def _event(self, event, data):
        if event == "press":
            self.presses += 1
        self.last_event = event
        self._emit(event, data)
        if event == "press" or event == "release":
            self._emit("state", self.state())

    def state(self):
        return {"pressed": self.logic.pressed, "presses": self.presses, "last_event": self.last_event}

    def describe(self):
        info = Device.describe(self)
        info["timings"] = {
            "debounce_ms": self.logic.debounce_ms, "poll_ms": self.poll_ms, "long_ms": self.logic.long_ms,
            "double_ms": self.logic.double_ms, "repeat_ms": self.logic.repeat_ms, "mode": self.mode,
        }
        return info

    # --- IRQ mode -------------------------------------------------------------------------

    def irq_handler(self, pin):
        # Hard IRQ context: no allocation. An int increment and ThreadSafeFlag.set() only.
        self._edges += 1
        self._flag.set()

    # --- asyncio glue ---------------------------------------------------------------------

    def start(self):
        if self.mode == "irq":
            trigger = self._irq_trigger
            if trigger is None:
                trigger = self.pin.IRQ_FALLING | self.pin.IRQ_RISING
            # Fails with TypeError/ValueError on ports without hard IRQs (esp32): by design.
            self.pin.irq(self.irq_handler, trigger, hard=True)
            self._irq_on = True
            self._start_task(self._run_irq())
        else:
            self._start_task(self._run_poll())

    async def _run_poll(self):
        while True:
            self.poll()
            await sleep_ms(self.poll_ms)

    async def _run_irq(self):
        while True:
            self.poll()
            if self.logic.busy() or self._edges != self._edges_seen:
                await sleep_ms(self.poll_ms)
            else:
                await self._flag.wait()

    def _release(self):
        if self.mode == "irq" and self._irq_on:
            self.pin.irq(None)
        self._irq_on = False
