"""What each output does when the board powers up, and the saved state that brings it back.

config.json's ``power_on`` gives each output device a mode: ``"restore"`` (the default) brings
back the state it had when the power went, ``"on"`` switches it fully on, ``"off"`` leaves it
off. So after a power cut a lamp that was on comes back on at its brightness, and the fan at its
speed. The board's Wi-Fi status LED is left out: at power-up it shows the Wi-Fi state.

The state of the outputs in ``restore`` mode lives in ``state.json`` beside the config: each
one's restore command (``Device.restore_command()``), checked against the device's command
schema when it is applied, like any command. A change is written ``SAVE_DELAY_MS`` after it,
together with every change made meanwhile: at most one write per ``SAVE_DELAY_MS`` however
fast the outputs change (a slider dragged for a minute is a dozen writes, not hundreds: flash
wears out with writes), none while nothing changes. Each write goes to a temporary file renamed
over the old one (app.storage), so a power cut leaves the old state or the new one. A reboot
the firmware asks for writes what is pending first.
"""

import asyncio
import json

from microhttp.compat import sleep_ms

from app import storage

MODES = ("off", "on", "restore")
FILENAME = "state.json"
SAVE_DELAY_MS = 5000


class PowerOn:
    """``devices``: the board's device list; ``modes``: config.json's ``power_on`` (device name
    -> mode); ``path``: the state file; ``problems``: the list the page shows (a bad mode, a
    state file that cannot be read); ``status_led``: the device that shows the Wi-Fi state;
    ``log``: where a failed write is reported."""

    def __init__(self, devices, modes, path=FILENAME, problems=None, status_led=None, log=print):
        self.path = path
        self.log = log
        self.problems = problems if problems is not None else []
        self.plan = []  # (output, its mode) in board order, until restore() has applied them
        self.kept = []  # the outputs whose state is saved: the "restore" ones
        for device in devices:
            if device.restore_command() is None:
                continue  # an input: nothing to switch or keep
            if device is status_led:
                if device.name in modes:
                    self.problems.append("power_on.%s: the Wi-Fi status LED shows the Wi-Fi state at power-up; "
                                         "ignored" % device.name)
                continue
            mode = modes.get(device.name, "restore")
            if mode not in MODES:
                self.problems.append("power_on.%s must be off, on or restore; using restore" % device.name)
                mode = "restore"
            self.plan.append((device, mode))
            if mode == "restore":
                self.kept.append(device)
        planned = [device.name for device, _ in self.plan]
        for name in modes:
            if name not in planned and (status_led is None or name != status_led.name):
                self.problems.append("power_on.%s: the board has no output of that name; ignored" % name)
        self.saved = ""  # what state.json holds, as its JSON text
        self.unsaved = False  # whether a kept output reported a change since the last write
        self._writer = None  # the task that writes SAVE_DELAY_MS after a change
        self._callback = self._changed  # one object, to subscribe and unsubscribe with

    def restore(self):
        """Apply each output's mode (at boot, once the board is started), then follow the
        changes of the outputs it keeps."""
        saved = self._read() if self.kept else {}
        plan, self.plan = self.plan, []  # needed at power-up only
        for device, mode in plan:
            command = device.ON_COMMAND if mode == "on" else saved.get(device.name) if mode == "restore" else None
            if not command:
                continue
            try:
                device.command(command)
            except ValueError as exc:  # CommandError: a state file from another board file
                self.problems.append("power_on.%s: the saved state was not applied (%s)" % (device.name, exc))
        self.saved = json.dumps(self.current())
        for device in self.kept:
            device.subscribe(self._callback)

    def current(self):
        """The restore command of each output kept, now."""
        return {device.name: device.restore_command() for device in self.kept}

    def _read(self):
        try:
            with open(self.path) as f:
                saved = json.load(f)
        except OSError:
            return {}  # nothing saved yet
        except ValueError as exc:  # MicroPython's json raises ValueError for any bad input
            self.problems.append("%s is corrupt (%s); the outputs start off" % (self.path, exc))
            return {}
        if not isinstance(saved, dict):
            self.problems.append("%s is not a JSON object; the outputs start off" % self.path)
            return {}
        return saved

    def _changed(self, device, event, data):
        if event == "state" and not self.unsaved:
            self.unsaved = True  # (whether it changed what is kept is seen when writing)
            if self._writer is None:
                self._writer = asyncio.create_task(self._save_later())

    async def _save_later(self):
        try:
            await sleep_ms(SAVE_DELAY_MS)
        finally:
            self._writer = None
        self.save()

    def save(self):
        """Write the kept outputs' state now if it changed since the last write; whether what
        is on flash is current."""
        if not self.unsaved:
            return True
        self.unsaved = False
        text = json.dumps(self.current())
        if text == self.saved:  # nothing kept changed (a fade's end), or it changed back
            return True
        try:
            storage.write_text(self.path, text)
        except OSError as exc:  # a full or failing filesystem: said, and tried again at the next change
            self.log("power_on: the outputs' state was not saved (%s)" % exc)
            return False
        self.saved = text
        return True

    def stop(self):
        """Write what is pending (before a reboot) and stop following the outputs."""
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self.save()
        for device in self.kept:
            device.unsubscribe(self._callback)
