# Boards are data: a JSON file names the chip, maps device names to pins and driver settings,
# and lists the loopback jumpers of the hardware tests. load_board() validates the whole file
# against the chip's facts (drivers/chips.py) BEFORE touching any pin, then builds the devices
# from the given machine module (the real one on a board, the shim on a host).
# This module and drivers.chips are needed only at boot: unload() gives their RAM back.
import json
import sys

from drivers import chips
from drivers.device import Board
from drivers.pwm import PwmPlan

__all__ = ["Board", "BoardError", "board_id_for_machine", "board_path", "detect_board_id", "load_board",
           "unload", "validate"]

_COMMON = ("name", "kind", "label", "pin", "role", "onboard", "notes")
_KEYS = {
    "led": _COMMON + ("active_low", "output", "freq", "curve", "brightness", "color"),
    "button": _COMMON + ("active_low", "pull", "mode", "poll_ms", "debounce_ms", "long_ms", "double_ms",
                         "repeat_ms"),
    "pwm": _COMMON + ("freq", "duty", "invert"),
}
_TOP = ("id", "name", "chip", "revision", "notes", "machine", "reserved", "named_pins", "devices", "loopbacks")
_TIMINGS = {"poll_ms": (1, 1000), "debounce_ms": (0, 1000), "long_ms": (0, 60000), "double_ms": (0, 5000),
            "repeat_ms": (0, 60000)}
# sys.implementation._machine substrings, most specific first
_MACHINES = (
    ("Pico 2 W", "rpi_pico2_w"),
    ("Pico W", "rpi_pico_w"),
    ("Pico", "rpi_pico"),
    ("ESP32S3", "esp32s3_devkitc1"),
    ("ESP32-S3", "esp32s3_devkitc1"),
    ("ESP32C3", "esp32c3_devkitm1"),
    ("ESP32-C3", "esp32c3_devkitm1"),
    ("ESP32", "esp32_devkitc"),
)


class BoardError(ValueError):
    """A board file is wrong; the message names the file, the device and the pin."""

    def __init__(self, source, device, pin, message):
        where = source
        if device is not None:
            where += ": device '%s'" % device
        if pin is not None:
            where += " on pin %s" % (pin,)
        super().__init__(where + ": " + message)
        self.source = source
        self.device = device
        self.pin = pin
        self.message = message


def detect_board_id(config=None):
    """Board id from ``config`` (a dict with "board", or a string), else the port's machine
    string, else "virtual"."""
    if isinstance(config, dict):
        config = config.get("board")
    if config:
        return config
    return board_id_for_machine(getattr(sys.implementation, "_machine", ""))


def board_id_for_machine(machine):
    """Map a ``sys.implementation._machine`` string onto a board id ("virtual" if unknown)."""
    for needle, board_id in _MACHINES:
        if needle in machine:
            return board_id
    return "virtual"


def board_path(board_id, directory="/boards"):
    return "%s/%s.json" % (directory, board_id)


# --- validation -------------------------------------------------------------------------------


def _label_pin(pin):
    return pin if isinstance(pin, str) else "GPIO%d" % pin


def _int(source, name, pin, key, value, lo, hi):
    if value is True or value is False or not isinstance(value, int) or not lo <= value <= hi:
        raise BoardError(source, name, pin, "%s must be a whole number from %d to %d" % (key, lo, hi))
    return value


def _resolve(source, spec, chip, name, pin):
    """GPIO number behind ``pin`` (None for a pin not on the chip's GPIO bank, e.g. CYW43)."""
    if isinstance(pin, str):
        named = spec.get("named_pins", {})
        if pin in named:
            return named[pin].get("gpio")
        if pin == "BOOTSEL" and chip in ("rp2040", "rp2350"):
            return None
        raise BoardError(source, name, pin, "unknown pin name (declare it under named_pins)")
    if pin is True or pin is False or not isinstance(pin, int):
        raise BoardError(source, name, pin, "pin must be a GPIO number or a pin name")
    if pin not in chips.CHIPS[chip]["gpio"]:
        raise BoardError(source, name, pin, "GPIO%d does not exist on %s" % (pin, chip))
    return pin


def _check_pin_use(source, spec, chip, name, pin, gpio, output, onboard):
    facts = chips.CHIPS[chip]
    reserved = spec.get("reserved", {})
    key = str(gpio) if gpio is not None else pin
    if key in reserved:
        raise BoardError(source, name, pin, "reserved on this board: " + reserved[key])
    if gpio is None:
        return
    if gpio in facts["flash"]:
        raise BoardError(source, name, pin, "%s is wired to the SPI flash" % _label_pin(gpio))
    if gpio in facts["console"]:
        raise BoardError(source, name, pin, "%s carries the REPL console (UART/USB)" % _label_pin(gpio))
    if output and gpio in facts["input_only"]:
        raise BoardError(source, name, pin, "%s is input-only: it cannot drive an output" % _label_pin(gpio))
    if output and gpio in facts["strapping"] and not onboard:
        raise BoardError(source, name, pin, "%s is a strapping pin: an output there can change the boot "
                                            "mode; choose another pin" % _label_pin(gpio))


def validate(spec, source="<board>"):
    """Check a board spec; returns the PwmPlan it needs. Raises BoardError."""
    if not isinstance(spec, dict):
        raise BoardError(source, None, None, "a board file holds one JSON object")
    for key in spec:
        if key not in _TOP:
            raise BoardError(source, None, None, "unknown key '%s'" % key)
    for key in ("id", "name", "chip"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise BoardError(source, None, None, "'%s' must be a non-empty string" % key)
    chip = spec["chip"]
    if chip not in chips.CHIPS:
        raise BoardError(source, None, None, "unknown chip '%s' (one of %s)" % (chip, ", ".join(sorted(chips.CHIPS))))
    facts = chips.CHIPS[chip]
    devices = spec.get("devices")
    if not isinstance(devices, list) or not devices:
        raise BoardError(source, None, None, "'devices' must be a non-empty list")
    plan = PwmPlan(chip, facts["pwm"])
    names = {}  # type: dict
    pins = {}  # type: dict
    for entry in devices:
        if not isinstance(entry, dict):
            raise BoardError(source, None, None, "every device is a JSON object")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise BoardError(source, None, entry.get("pin"), "a device needs a non-empty 'name'")
        pin = entry.get("pin")
        if name in names:
            raise BoardError(source, name, pin, "two devices are named '%s'" % name)
        names[name] = entry
        kind = entry.get("kind")
        if kind not in _KEYS:
            raise BoardError(source, name, pin, "kind must be led, button or pwm")
        for key in entry:
            if key not in _KEYS[kind]:
                raise BoardError(source, name, pin, "unknown setting '%s' for a %s" % (key, kind))
        if pin is None:
            raise BoardError(source, name, None, "a device needs a 'pin'")
        gpio = _resolve(source, spec, chip, name, pin)
        key = gpio if gpio is not None else pin
        if key in pins:
            raise BoardError(source, name, pin, "pin already used by device '%s'" % pins[key])
        pins[key] = name
        for key in ("active_low", "onboard", "invert"):
            if key in entry and entry[key] is not True and entry[key] is not False:
                raise BoardError(source, name, pin, "%s must be true or false" % key)
        for key in ("label", "role", "notes"):
            if key in entry and not isinstance(entry[key], str):
                raise BoardError(source, name, pin, "%s must be a string" % key)
        output = kind != "button"
        _check_pin_use(source, spec, chip, name, pin, gpio, output, entry.get("onboard") is True)
        if kind == "button":
            _check_button(source, entry, facts, name, pin, gpio)
        elif kind == "led":
            _check_led(source, spec, entry, plan, name, pin, gpio)
        else:
            freq = _int(source, name, pin, "freq", entry.get("freq", 1000), 1, 100000000)
            duty = entry.get("duty", 0)
            if duty is True or duty is False or not isinstance(duty, (int, float)) or not 0 <= duty <= 1:
                raise BoardError(source, name, pin, "duty must be a number from 0 to 1")
            _claim_pwm(source, spec, plan, name, pin, gpio, freq)
    _check_loopbacks(source, spec, chip, pins)
    return plan


def _check_button(source, entry, facts, name, pin, gpio):
    pull = entry.get("pull", "up")
    if pull not in ("up", "down", "none"):
        raise BoardError(source, name, pin, "pull must be up, down or none")
    if pin == "BOOTSEL" and pull != "none" and "pull" in entry:
        raise BoardError(source, name, pin, "BOOTSEL has no configurable pull")
    if gpio is not None and gpio in facts["input_only"] and pull != "none":
        raise BoardError(source, name, pin, "%s has no internal pull resistors: use pull none and an "
                                            "external resistor" % _label_pin(gpio))
    if pull == "down" and facts.get("no_pull_down"):
        raise BoardError(source, name, pin, "RP2350-E9: a pulled-down input can latch at ~2.2 V; use pull up "
                                            "and active_low")
    mode = entry.get("mode", "poll")
    if mode not in ("poll", "irq"):
        raise BoardError(source, name, pin, "mode must be poll or irq")
    if mode == "irq" and (not facts["hard_irq"] or pin == "BOOTSEL"):
        raise BoardError(source, name, pin, "mode irq needs a GPIO with hard IRQs (rp2); ESP32 pin IRQs are "
                                            "soft and BOOTSEL can only be polled: use poll")
    for key, (lo, hi) in _TIMINGS.items():
        if key in entry:
            _int(source, name, pin, key, entry[key], lo, hi)


def _check_led(source, spec, entry, plan, name, pin, gpio):
    output = entry.get("output", "gpio")
    if output not in ("gpio", "pwm", "pixel"):
        raise BoardError(source, name, pin, "output must be gpio, pwm or pixel")
    if entry.get("curve", "cie") not in ("cie", "linear"):
        raise BoardError(source, name, pin, "curve must be cie or linear")
    brightness = entry.get("brightness", 1)
    if brightness is True or brightness is False or not isinstance(brightness, (int, float)) \
            or not 0 <= brightness <= 1:
        raise BoardError(source, name, pin, "brightness must be a number from 0 to 1")
    if output == "pwm":
        _claim_pwm(source, spec, plan, name, pin, gpio, _int(source, name, pin, "freq", entry.get("freq", 1000),
                                                            1, 100000000))
    if output == "pixel":
        color = entry.get("color", [255, 255, 255])
        if not isinstance(color, list) or len(color) != 3:
            raise BoardError(source, name, pin, "color must be [r, g, b]")
        for c in color:
            _int(source, name, pin, "color", c, 0, 255)


def _claim_pwm(source, spec, plan, name, pin, gpio, freq):
    if gpio is None:
        note = spec.get("named_pins", {}).get(pin, {}).get("note", "not a GPIO of the chip")
        raise BoardError(source, name, pin, "not PWM-capable: " + note)
    try:
        plan.claim(name, gpio, freq)
    except ValueError as exc:
        raise BoardError(source, name, pin, str(exc))


def _check_loopbacks(source, spec, chip, pins):
    loopbacks = spec.get("loopbacks", [])
    if not isinstance(loopbacks, list):
        raise BoardError(source, None, None, "'loopbacks' must be a list of [output, input] pairs")
    used = {}  # type: dict
    for pair in loopbacks:
        if not isinstance(pair, list) or len(pair) != 2:
            raise BoardError(source, None, None, "a loopback is an [output, input] pair")
        label = "loopback %s->%s" % (pair[0], pair[1])
        for i, pin in enumerate(pair):
            gpio = _resolve(source, spec, chip, label, pin)
            if gpio in used:
                raise BoardError(source, label, pin, "pin already used by " + used[gpio])
            if i == 0 and gpio in pins:
                raise BoardError(source, label, pin, "would drive the pin of device '%s'" % pins[gpio])
            _check_pin_use(source, spec, chip, label, pin, gpio, i == 0, False)
            used[gpio] = label


# --- construction -----------------------------------------------------------------------------


def _build(entry, machine, plan, clock):
    kind = entry["kind"]
    name = entry["name"]
    pin_id = entry["pin"]
    Pin = machine.Pin
    label = entry.get("label")
    if kind == "button":
        from drivers.button import BootselPin, Button

        pull = entry.get("pull", "none" if pin_id == "BOOTSEL" else "up")
        if pin_id == "BOOTSEL":
            pin = BootselPin()
            active_low = entry.get("active_low", False)
        else:
            if pull == "none":
                pin = Pin(pin_id, Pin.IN)
            else:
                pin = Pin(pin_id, Pin.IN, Pin.PULL_UP if pull == "up" else Pin.PULL_DOWN)
            active_low = entry.get("active_low", pull == "up")
        timings = {}
        for key in _TIMINGS:
            if key in entry:
                timings[key] = entry[key]
        return Button(name, pin, active_low=active_low, mode=entry.get("mode", "poll"), label=label,
                      clock=clock, **timings)
    if kind == "led":
        from drivers.led import Led, PixelOutput

        active_low = entry.get("active_low", False)
        output = entry.get("output", "gpio")
        curve = entry.get("curve", "cie")
        brightness = entry.get("brightness", 1.0)
        if output == "pwm":
            pwm = machine.PWM(Pin(pin_id, Pin.OUT), freq=entry.get("freq", 1000),
                              duty_u16=65535 if active_low else 0)
            return Led(name, pwm=pwm, active_low=active_low, curve=curve, brightness=brightness, label=label,
                       clock=clock)
        if output == "pixel":
            import neopixel

            pixels = neopixel.NeoPixel(Pin(pin_id, Pin.OUT), 1)
            out = PixelOutput(pixels, 0, tuple(entry.get("color", (255, 255, 255))), curve)
            return Led(name, output=out, brightness=brightness, label=label, clock=clock)
        pin = Pin(pin_id, Pin.OUT, value=1 if active_low else 0)
        return Led(name, pin=pin, active_low=active_low, brightness=brightness, label=label, clock=clock)
    from drivers.pwm import PwmOut

    freq = entry.get("freq", 1000)
    duty = entry.get("duty", 0)
    invert = entry.get("invert", False)
    start = int(duty * 65535 + 0.5)
    pwm = machine.PWM(Pin(pin_id, Pin.OUT), freq=freq, duty_u16=65535 - start if invert else start)
    return PwmOut(name, pwm, freq=freq, duty=duty, invert=invert, plan=plan, label=label, clock=clock)


def load_board(source, machine, clock=None):
    """Load, validate and build a board from a JSON file path or a dict. Raises BoardError."""
    if isinstance(source, dict):
        spec = source
        label = "board '%s'" % source.get("id", "?")
    else:
        label = source
        try:
            with open(source) as f:
                spec = json.load(f)
        except OSError as exc:
            raise BoardError(label, None, None, "cannot read the file (%s)" % exc)
        except ValueError as exc:
            raise BoardError(label, None, None, "not valid JSON (%s)" % exc)
    plan = validate(spec, label)
    devices = []
    try:
        for entry in spec["devices"]:
            try:
                devices.append(_build(entry, machine, plan, clock))
            except (ValueError, TypeError, OSError, ImportError, RuntimeError) as exc:
                raise BoardError(label, entry["name"], entry["pin"], "the port refused it: %s" % exc)
    except BoardError:
        for device in devices:  # give back what was already set up
            device.deinit()
        raise
    return Board(spec, label, devices, plan)


def unload():
    """Forget this loader and the chip tables (boot-only code) so the GC can reclaim them.

    Call it after load_board(), once nothing else holds its functions; the built Board and its
    devices live in drivers.device, drivers.led, drivers.button and drivers.pwm.
    """
    import drivers

    for name in ("board", "chips"):
        sys.modules.pop("drivers." + name, None)
        try:
            delattr(drivers, name)
        except (AttributeError, TypeError):
            pass
