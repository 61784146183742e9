"""Local bindings: a button's events command devices on the board itself, with no phone and no
network, as a wall switch keeps working when the Wi-Fi is down.

config.json's ``bindings`` is a list of entries such as

    {"button": "button", "event": "click", "device": "led", "command": {"toggle": true}}

When the button reports the event, the command goes to the device through the same command
schema as the API's. Several entries may share an event (a long press that switches the lamp
and the fan off is two entries).

``check(entries, devices)`` checks every entry before any is used and returns the good ones
and a CommandError for each bad one, naming its field the way the API does
(``bindings[1].command.brightness: must be between 0 and 1``). ``Bindings(devices, entries)``
follows the buttons the entries name; ``close()`` stops.
"""

from drivers.device import CommandError, validate_command

MAX_BINDINGS = 16  # bounded: each one is a subscription and a stored command
_ENTRY_KEYS = ("button", "event", "device", "command")


def _check_entry(where, entry, devices):
    # The entry with its command normalised, or a CommandError naming the bad field.
    if not isinstance(entry, dict):
        raise CommandError(where, "expected an object with button, event, device and command")
    for key in entry:
        if key not in _ENTRY_KEYS:
            raise CommandError(where + "." + str(key), "unknown field")
    for key in _ENTRY_KEYS:
        if key not in entry:
            raise CommandError(where + "." + key, "is required")
    button = devices.get(entry["button"]) if isinstance(entry["button"], str) else None
    if button is None or button.kind != "button":
        raise CommandError(where + ".button", "the board has no button of that name")
    events = [event for event in button.EVENTS if event != "state"]
    if entry["event"] not in events:
        raise CommandError(where + ".event", "must be one of " + ", ".join(events))
    device = devices.get(entry["device"]) if isinstance(entry["device"], str) else None
    if device is None or not device.COMMANDS:
        raise CommandError(where + ".device", "the board has no device of that name that takes commands")
    try:
        validate_command(device.COMMANDS, device.EXCLUSIVE, entry["command"])
    except CommandError as exc:
        raise CommandError(where + ".command." + exc.field, exc.message)
    return {"button": entry["button"], "event": entry["event"], "device": entry["device"],
            "command": entry["command"]}


def check(entries, devices):
    """(entries kept, errors) for config.json's ``bindings``; ``devices``: name -> Device;
    each error a CommandError naming its field."""
    if not isinstance(entries, list):
        return [], [CommandError("bindings", "expected a list")]
    kept, errors = [], []
    for index, entry in enumerate(entries):
        if index >= MAX_BINDINGS:
            errors.append(CommandError("bindings", "at most %d entries; the rest are left out" % MAX_BINDINGS))
            break
        try:
            kept.append(_check_entry("bindings[%d]" % index, entry, devices))
        except CommandError as exc:
            errors.append(exc)
    return kept, errors


class Bindings:
    """The checked ``entries`` (see check()) at work on ``devices`` (name -> Device)."""

    def __init__(self, devices, entries, log=print):
        self.devices = devices
        self.log = log
        self.entries = entries
        self.fired = 0
        self._buttons = [devices[name] for name in {entry["button"] for entry in entries}]
        self._callback = self._on_event  # one object, to subscribe and unsubscribe with
        for button in self._buttons:
            button.subscribe(self._callback)

    def _on_event(self, button, event, data):
        for entry in self.entries:
            if entry["button"] == button.name and entry["event"] == event:
                try:
                    self.devices[entry["device"]].command(entry["command"])
                    self.fired += 1
                except CommandError as exc:  # checked, but a port may still refuse (a PWM timer)
                    self.log("bindings: %s %s -> %s: %s" % (button.name, event, entry["device"], exc))

    def close(self):
        for button in self._buttons:
            button.unsubscribe(self._callback)
        self._buttons = []
