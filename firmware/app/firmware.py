"""The running firmware: its parts in one place (what the routes need), and how it stops.

app.startup builds a ``Firmware`` at boot; app.runner keeps it until a reboot is requested.
"""

import asyncio
import sys
import time

from app.wifi import AP, CONNECTED, CONNECTING


def status_led_command(state):
    """The status LED's command for Wi-Fi ``state`` (Led patterns from drivers.led), or None.
    Made when the state changes: no table of them stays in RAM."""
    if state == CONNECTING:
        return {"pattern": "blink", "period_ms": 400}
    if state == AP:
        return {"pattern": "heartbeat"}
    if state == CONNECTED:
        return {"on": False}  # joined: the LED is the user's again
    return None


VERSION = "0.1.0"  # the firmware's release: pyproject.toml's and firmware/manifest.py's version


# The firmware's log: each line is printed (the serial console), and the last LOG_LINES are
# kept for the page (GET /api/log) and passed to the listeners (the pages' event stream), so
# the log can be read with no laptop. Bounded: a line is cut at LOG_WIDTH characters.
LOG_LINES = 12
LOG_WIDTH = 160
recent_lines = []  # type: list  # oldest first
log_listeners = []  # type: list  # each called with every new line


def log(msg):
    print(msg)
    if len(msg) > LOG_WIDTH:
        msg = msg[:LOG_WIDTH - 3] + "..."
    recent_lines.append(msg)
    if len(recent_lines) > LOG_LINES:
        del recent_lines[0]
    for listener in log_listeners:
        listener(msg)


def release(name):
    """Forget module ``name`` (code needed only now and then: start-up, the settings): out of
    sys.modules and off its package, so the collector takes it back once nothing refers to it."""
    sys.modules.pop(name, None)
    package, _, attribute = name.rpartition(".")
    if package in sys.modules:
        try:
            delattr(sys.modules[package], attribute)
        except (AttributeError, TypeError):
            pass


class Firmware:
    """Everything the routes need, in one place, and how it stops."""

    def __init__(self, settings, problems, config_path):
        self.settings = settings  # config.json as loaded (plain data; see app.config)
        self.config_path = config_path
        self.problems = list(problems)
        self.board = None
        self.board_id = ""
        self.devices = {}
        self.device_list = []
        self.commands = None
        self.wifi = None
        self.status_led = None
        self.power_on = None  # app.power_on.PowerOn when the board has outputs
        self.bindings = None  # app.bindings.Bindings when config.json binds a button
        self.access = None  # app.access.Access when a password is set
        self.catalog = None  # app.catalog.Catalog: the board's description as the API serves it
        self.hub = None
        self.live = None
        self.server = None
        self.dns = None
        self.port = 80
        self.started = time.ticks_ms()
        self.reset_cause = None  # why the board last started (see read_reset_cause)
        self.reboot = asyncio.Event()
        self._reboot_task = None

    def connections(self):
        conns = getattr(self.server, "conns", None)  # microhttp.server.Server's live connections
        return None if conns is None else len(conns)

    def apply_command(self, name, command):
        """Apply a validated command to device ``name`` (the coalescer calls this)."""
        return self.devices[name].command(command)

    def set_bindings(self, entries):
        """Replace the button bindings with ``entries`` (checked: app.bindings.check)."""
        from app.bindings import Bindings

        if self.bindings is not None:
            self.bindings.close()
        self.bindings = Bindings(self.devices, entries, log) if entries else None

    def forget_problems(self, setting):
        """Drop the problems reported about ``setting`` (a config key), once it was set anew."""
        self.problems = [problem for problem in self.problems if not problem.startswith(setting)]

    def show_wifi_state(self, state):
        command = status_led_command(state)
        if self.status_led is not None and command is not None:
            self.status_led.command(command)
        if self.live is not None:
            # The pages show the Wi-Fi state from /api/board: a page whose stream opened while
            # the board was still joining would show "connecting" until reloaded.
            self.live.publish("resync", {})
        if state == CONNECTED and self.dns is not None:
            # Back on a saved network from setup mode: no more captive portal.
            self.dns.stop()
            self.dns = None

    def schedule_reboot(self, delay_ms=1000):
        async def later():
            await asyncio.sleep(delay_ms / 1000)  # let the response reach the phone first
            self.reboot.set()

        self._reboot_task = asyncio.create_task(later())

    async def stop(self):
        """Stop every part that start-up started (those it reached)."""
        if self.bindings is not None:
            self.bindings.close()
        if self.power_on is not None:
            self.power_on.stop()  # the outputs' last change on flash before the reboot
        if self.dns is not None:
            self.dns.stop()
        if self.wifi is not None:
            self.wifi.stop()
        if self.live is not None:
            del log_listeners[:]  # the pages' stream is closing
            self.live.close()
        if self.server is not None:
            await self.server.close()
        if self.board is not None:
            self.board.deinit()
