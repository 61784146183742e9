"""Start-up: config -> board -> drivers -> HTTP server -> Wi-Fi (-> captive DNS).

``firmware = await start(config_path, net, hw)`` builds every part of the running firmware
(``app.firmware.Firmware``) and returns once it serves. Nothing here may stop the board from
booting: a bad config gives defaults, a bad board file gives an empty device list, both
reported in the log and on the page.

This module, the config loader (app.config) and the board loader (drivers.board) are needed
only while the board starts: app.runner releases them once ``start()`` returns, so nothing
defined here may be called later (no closures or classes from this file in the parts).
Features load only when the configuration uses them: login code when a password is set, the
captive-portal DNS in access-point mode.

Boot order and the heap: the boot-only work (reading the config and the board file, checking
the board) runs first, with a collection after each step, so that what lives for the whole
run is allocated after it, from the bottom of the heap up, in one packed piece instead of
scattered between the holes that boot-only data leaves.
"""

import gc
import sys

from microhttp import compat

from app import config, storage
from app import wifi as wifi_mod
from app.firmware import Firmware, log, log_listeners

BOARDS_DIR = "boards"
_HEARTBEAT_S = 15  # SSE comment lines on idle streams: drops vanished phones, keeps links up
# How soon a page's event stream tries again once the board is gone (the stream's "retry:"
# field, WHATWG HTML section 9.2): a rebooted board is back in well under a second, and a
# browser's own default waits seconds.
_RECONNECT_MS = 500
# Free heap below which the server takes one connection and one request at a time (microhttp's
# min_free): 12 KB on a 32-bit board, twice that where words are twice as wide.
_MIN_FREE = 3072 * compat.WORD


def load_board(firmware, machine):
    """Load and start the board's devices; on any failure, boot with none and say why."""
    try:
        from drivers.board import detect_board_id
        from drivers.board import load_board as load

        board_id = detect_board_id(firmware.settings["board"])
        board = load("%s/%s.json" % (BOARDS_DIR, board_id), machine)
        firmware.board = board
        firmware.board_id = board_id
        firmware.device_list = list(board.device_list)
        firmware.devices = dict(board.devices)
        board.start()
        log("board: %s with %s" % (board_id, ", ".join(d.name for d in firmware.device_list) or "no devices"))
    except Exception as exc:  # BoardError, a missing file, a driver that would not start
        firmware.problems.append("board not loaded (%s); running without devices" % exc)
        log("board: " + firmware.problems[-1])
    finally:
        # The loader and the chip tables are boot-only: give them back before the server starts.
        loader = sys.modules.get("drivers.board")
        if loader is not None:
            loader.unload()


# machine.reset_cause() -> words for the diagnostics (the constants a port lacks are skipped).
_RESET_CAUSES = (("PWRON_RESET", "power-on"), ("HARD_RESET", "reset button or hard reset"),
                 ("WDT_RESET", "watchdog"), ("DEEPSLEEP_RESET", "wake from deep sleep"),
                 ("SOFT_RESET", "soft reset"))


def read_reset_cause(machine):
    """Why the board last started, in words, or None where the port cannot tell."""
    try:
        cause = machine.reset_cause()
    except (AttributeError, OSError):
        return None
    for name, words in _RESET_CAUSES:
        if getattr(machine, name, None) == cause:
            return words
    return "unknown (%s)" % cause


def find_status_led(firmware):
    """The LED that shows the Wi-Fi state: the configured one, the board's "wifi_status"
    role, else the first LED; None when the board has none."""
    name = firmware.settings["status_led"]
    led = firmware.devices.get(name) if name else None
    if led is None and firmware.board is not None:
        led = firmware.board.role("wifi_status")
    if led is None:
        for device in firmware.device_list:
            if device.kind == "led":
                return device
    return led


def apply_labels(firmware):
    """The names the maker gave the devices on the page (config.json's ``labels``)."""
    labels = firmware.settings["labels"]
    for name in labels:
        device = firmware.devices.get(name)
        if device is None:
            firmware.problems.append("labels.%s: the board has no device of that name; ignored" % name)
        elif not isinstance(labels[name], str) or not labels[name]:
            firmware.problems.append("labels.%s must be a name; ignored" % name)
        else:
            device.label = labels[name]


def restore_outputs(firmware, config_path):
    """Each output's power-up mode (app.power_on), its saved state read from beside the config."""
    if not firmware.device_list:
        return
    from app.power_on import FILENAME, PowerOn

    reported = len(firmware.problems)
    firmware.power_on = PowerOn(firmware.device_list, firmware.settings["power_on"], storage.beside(config_path, FILENAME),
                                firmware.problems, firmware.status_led, log)
    firmware.power_on.restore()
    for problem in firmware.problems[reported:]:
        log(problem)


def _env_int(name, default):
    import os

    getenv = getattr(os, "getenv", None)
    value = getenv(name) if getenv else None
    return int(value) if value else default


async def start(config_path=None, net=None, hw=None):
    """``config_path`` (default config.json), ``net``/``hw`` replace the ``network``/``machine``
    modules (tests); normally imported."""
    config_path = config_path or config.FILENAME
    settings, problems = config.load(config_path)
    for problem in problems:
        log("config: " + problem)
    firmware = Firmware(settings, problems, config_path)
    gc.collect()
    if net is None:
        net = __import__("network")  # every Wi-Fi board has it (the plain Pico has none: no app there)
    try:
        if hw is None:
            hw = __import__("machine")
    except ImportError as exc:
        firmware.problems.append("no machine module (%s)" % exc)
    else:
        firmware.reset_cause = read_reset_cause(hw)
        load_board(firmware, hw)
        apply_labels(firmware)
        firmware.status_led = find_status_led(firmware)
        restore_outputs(firmware, config_path)  # reading the state file is boot-only work too
    gc.collect()

    from microhttp import App
    from microhttp.sse import EventHub

    from app import api, web
    from app.control import Coalescer
    from app.events import Live

    password = settings["auth"]["password"]
    if password:
        from app.access import Access

        firmware.access = Access(password)
        if firmware.access.stored != password:
            # A password typed into config.json: from now on the file keeps only its salted
            # hash (written atomically, app.config.save).
            settings["auth"]["password"] = firmware.access.stored
            try:
                config.save(config_path, settings)
            except OSError as exc:
                log("config: the password stays unhashed on flash (%s)" % exc)
    firmware.commands = Coalescer(firmware.apply_command)
    firmware.hub = EventHub(history=16, heartbeat=_HEARTBEAT_S, retry=_RECONNECT_MS)
    firmware.live = Live(firmware.hub)
    firmware.live.watch(firmware.device_list)
    log_listeners.append(firmware.live.log_line)
    if settings["bindings"]:
        from app.bindings import check

        entries, errors = check(settings["bindings"], firmware.devices)
        for error in errors:
            firmware.problems.append("%s; left out" % error)
            log(firmware.problems[-1])
        firmware.set_bindings(entries)
    firmware.wifi = wifi_mod.WiFi(net, settings, log=log, on_state=firmware.show_wifi_state)

    app = App(max_body=1024)
    api.install(app, firmware)
    web.install(app, firmware)
    host = settings["bind"]
    if compat.SIMULATED and host == "0.0.0.0":
        host = "127.0.0.1"  # a simulated board never listens beyond this machine
    port = settings["http_port"]
    if compat.SIMULATED:
        port = _env_int("HTTP_PORT", port)  # tests and tools pick a free port on the host
    firmware.port = port
    firmware.server = await app.start(host, port, min_free=_MIN_FREE)
    log("http: listening on http://%s:%d/" % (host, port))

    state = await firmware.wifi.start()
    dns_port = settings["dns_port"]
    if compat.SIMULATED:
        dns_port = _env_int("DNS_PORT", dns_port)
    if state == wifi_mod.AP and dns_port:
        from app.dns import CaptiveDNS

        try:
            firmware.dns = await CaptiveDNS(firmware.wifi.ip or "192.168.4.1").start(host, dns_port)
            log("dns: captive portal on port %d" % dns_port)
        except OSError as exc:
            log("dns: not started (%s)" % exc)
    log("ready: wifi %s" % state)
    return firmware
