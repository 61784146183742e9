# The one abstraction every peripheral shares: a named Device with a kind, a JSON-ready state,
# validated commands and events pushed to subscribers.
#
# Theory of operation: command(dict) validates EVERY field against the class's schema first
# (validate_command) and only then applies the normalised values (_apply), so a bad field
# raises CommandError and changes nothing. Schemas are plain dicts so describe() can hand them
# to the control page as they are. Drivers are sans-I/O at their core (an update/tick step fed
# with now_ms); start() adds thin asyncio tasks, which are all kept and cancelled by deinit().
import asyncio

from microhttp.compat import print_exception, sleep_ms, ticks_ms


class CommandError(ValueError):
    """A command was refused; ``field`` names the offending field (``str()`` reads well)."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.message = message


# --- command schema -------------------------------------------------------------------------
# One field spec is a dict: name, type ("bool" | "true" | "int" | "number" | "choice" |
# "object" | "list"), help, and per type: min/max, values, fields (a tuple of specs), item,
# max_items, required.


def field(name, kind, help, **extra):
    spec = {"name": name, "type": kind, "help": help}
    spec.update(extra)
    return spec


def _check(path, spec, value):
    kind = spec["type"]
    # bool is an int on CPython but not on MicroPython: reject it explicitly everywhere.
    is_bool = value is True or value is False
    if kind == "bool":
        if not is_bool:
            raise CommandError(path, "expected true or false")
        return value
    if kind == "true":
        if value is not True:
            raise CommandError(path, "expected true")
        return True
    if kind == "int" or kind == "number":
        if is_bool or not isinstance(value, (int, float)):
            raise CommandError(path, "expected a number")
        if value - value != 0:  # NaN and +-inf (inf - inf is NaN): JSON-ish input can carry them
            raise CommandError(path, "expected a finite number, not NaN or infinity")
        if kind == "int" and isinstance(value, float):
            if value != int(value):
                raise CommandError(path, "expected a whole number")
            value = int(value)
        lo = spec.get("min")
        hi = spec.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise CommandError(path, "must be between %s and %s" % (lo, hi))
        return value if kind == "int" else float(value)
    if kind == "choice":
        if value not in spec["values"]:
            raise CommandError(path, "must be one of " + ", ".join(spec["values"]))
        return value
    if kind == "object":
        if not isinstance(value, dict):
            raise CommandError(path, "expected an object")
        return _check_fields(path + ".", spec["fields"], value, spec.get("required", ()))
    if kind == "list":
        if not isinstance(value, list):
            raise CommandError(path, "expected a list")
        if not value or len(value) > spec["max_items"]:
            raise CommandError(path, "expected 1 to %d items" % spec["max_items"])
        out = []
        for i, item in enumerate(value):
            out.append(_check("%s[%d]" % (path, i), spec["item"], item))
        return out
    raise CommandError(path, "unsupported field type " + kind)


def _check_fields(prefix, specs, values, required):
    out = {}
    for key in values:
        spec = None
        for s in specs:
            if s["name"] == key:
                spec = s
                break
        if spec is None:
            raise CommandError(prefix + str(key), "unknown field")
        out[key] = _check(prefix + key, spec, values[key])
    for name in required:
        if name not in out:
            raise CommandError(prefix + name, "is required")
    for s in specs:
        if s["name"] not in out and "default" in s:
            out[s["name"]] = s["default"]
    return out


def validate_command(specs, exclusive, command):
    """Check ``command`` against ``specs``; return the normalised fields or raise CommandError."""
    if not isinstance(command, dict) or not command:
        raise CommandError("command", "expected an object with at least one field")
    fields = _check_fields("", specs, command, ())
    for group in exclusive:
        seen = None
        for name in group:
            if name in fields:
                if seen is not None:
                    raise CommandError(name, "cannot be combined with " + seen)
                seen = name
    return fields


# --- the Device base class --------------------------------------------------------------------


class Device:
    """Base class: name, kind, label, state(), describe(), command(), subscribe(), deinit()."""

    kind = "device"
    COMMANDS = ()  # type: tuple # field specs accepted by command()
    EXCLUSIVE = ()  # type: tuple # groups of fields that cannot appear together
    EVENTS = ("state",)  # type: tuple
    # The command that switches this device fully on (a board's "on at power-up"), or None for
    # a device with nothing to switch (an input).
    ON_COMMAND = None  # type: dict | None

    def __init__(self, name, label=None, clock=None):
        self.name = name
        self.label = label or name
        self.clock = clock or ticks_ms  # tests pass a virtual clock
        self._subscribers = []
        self.tasks = []  # every asyncio task this device started; deinit() cancels them

    def state(self):
        return {}

    def restore_command(self):
        """The command that brings this device, freshly built, back to its present state (an
        output's state kept across a power cut), or None when it has none to keep (an input).
        Where it is heading, for a state still changing: a fade's target."""
        return None

    def describe(self):
        return {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "state": self.state(),
            "commands": list(self.COMMANDS),
            "exclusive": [list(g) for g in self.EXCLUSIVE],
            "events": list(self.EVENTS),
        }

    def command(self, command):
        """Validate, then apply; returns the new state. Raises CommandError, changing nothing."""
        fields = validate_command(self.COMMANDS, self.EXCLUSIVE, command)
        self._apply(fields, self.clock())
        state = self.state()
        self._emit("state", state)
        return state

    def _apply(self, fields, now):
        raise CommandError("command", "%s accepts no commands" % self.kind)

    def subscribe(self, callback):
        """``callback(device, event, data)``; returns a function that unsubscribes it (or call
        ``unsubscribe(callback)`` with the same object: nothing to keep per subscription)."""
        self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback):
        """Stop calling ``callback`` (the object given to subscribe()); harmless when it is
        not subscribed."""
        subscribers = self._subscribers
        for i in range(len(subscribers)):
            if subscribers[i] is callback:
                del subscribers[i]
                return

    def _emit(self, event, data):
        for callback in tuple(self._subscribers):
            try:
                callback(self, event, data)
            except Exception as exc:  # one broken subscriber must not stop the driver
                print_exception(exc)

    def start(self):
        """Start this device's tasks (needs a running asyncio loop)."""

    def _start_task(self, coro):
        task = asyncio.create_task(coro)
        self.tasks.append(task)
        return task

    def deinit(self):
        """Cancel every task this device started and release its hardware."""
        for task in self.tasks:
            task.cancel()
        self.tasks = []
        self._release()

    def _release(self):
        pass

    def __repr__(self):
        return "<%s %s>" % (self.kind, self.name)


class AnimatedDevice(Device):
    """An output that moves by itself (a fade, a blink, a sequence). Subclasses give
    ``animating(now)`` and ``tick(now)``; start() adds one task that ticks every ``frame_ms``
    while something moves and otherwise sleeps until a command calls wake()."""

    def __init__(self, name, label=None, clock=None, frame_ms=20):
        super().__init__(name, label, clock)
        self.frame_ms = frame_ms  # 50 Hz: smooth enough for fades, cheap for the loop
        self._wake = None  # an asyncio.Event once started

    def animating(self, now):
        return False

    def tick(self, now=None):
        pass

    def wake(self):
        """Let the task see a command that started something moving."""
        if self._wake is not None:
            self._wake.set()

    def start(self):
        wake = self._wake = asyncio.Event()  # made here: CPython binds an Event to the running loop
        self._start_task(self._animate(wake))

    async def _animate(self, wake):
        while True:
            if self.animating(self.clock()):
                self.tick()
                await sleep_ms(self.frame_ms)
            else:
                self.tick()  # the last frame: a fade that ended between two frames lands exactly
                wake.clear()
                await wake.wait()

    def _release(self):
        self._wake = None


# --- a loaded board ---------------------------------------------------------------------------
# Lives here, not in drivers.board, so the loader and the chip tables can leave RAM after boot.


class Board:
    """A loaded board: ``devices`` (name -> Device), ``device_list`` (file order), ``loopbacks``."""

    def __init__(self, spec, source, devices, plan):
        # Only what the running board needs is kept from the board file (not the file itself:
        # its notes and settings would stay in RAM for nothing once the devices are built).
        self.source = source
        self.id = spec["id"]
        self.name = spec["name"]
        self.chip = spec["chip"]
        self.device_list = devices
        self.devices = {}
        for device in devices:
            self.devices[device.name] = device
        self.loopbacks = [(pair[0], pair[1]) for pair in spec.get("loopbacks", ())]
        self.plan = plan
        self._roles = {}
        for entry, device in zip(spec["devices"], devices):
            if entry.get("role"):
                self._roles[entry["role"]] = device

    def role(self, role):
        """The device with ``"role": role`` in the board file (e.g. "wifi_status"), or None."""
        return self._roles.get(role)

    def describe(self):
        return [device.describe() for device in self.device_list]

    def state(self):
        out = {}
        for device in self.device_list:
            out[device.name] = device.state()
        return out

    def start(self):
        for device in self.device_list:
            device.start()

    def deinit(self):
        for device in self.device_list:
            device.deinit()
