"""Start-up order: config -> board -> drivers -> HTTP server -> Wi-Fi (-> captive DNS).

``await main()`` runs until a reboot is requested (the setup page saved a network) and then
returns "reboot"; main.py resets the board. Nothing here may stop the board from booting: a
bad config gives defaults, a bad board file gives an empty device list, both reported in the
log and on the page.
"""

import asyncio
import sys
import time

from app import config
from app import wifi as wifi_mod
from app.access import Access
from app.control import Coalescer
from app.events import Live

BOARDS_DIR = "boards"
_HOST_PLATFORMS = ("linux", "darwin", "win32")  # the unix port or CPython: a simulated board
_HEARTBEAT_S = 15  # SSE comment lines on idle streams: drops vanished phones, keeps links up
# Free heap below which the server takes one connection and one request at a time (microhttp's
# min_free): 12 KB on a 32-bit board, twice that on the 64-bit unix port. On a 112 KB ESP32 this
# app has about 14 KB free when idle; with microhttp's default (8 KB) four soak clients still
# got 1-68 of 2000 requests answered 503 (tests_device --vboard-bits 32), with 12 KB none in
# most runs; the few left (about one run in ten) are gone since a GET that ran out of memory
# gets a second try (microhttp.slowpath.again; see the README's Testing section).
_MIN_FREE = 3072 * (8 if getattr(sys, "maxsize", 0) > 1 << 32 else 4)

# Wi-Fi state -> status LED command (Led patterns from drivers.led).
_LED_FOR_STATE = {
    wifi_mod.CONNECTING: {"pattern": "blink", "period_ms": 400},
    wifi_mod.AP: {"pattern": "heartbeat"},
    wifi_mod.CONNECTED: {"on": False},  # joined: the LED is the user's again
}


class Context:
    """Everything the routes need, in one place."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.problems = list(cfg.problems)
        self.board = None
        self.board_id = ""
        self.devices = {}
        self.device_list = []
        self.commands = None
        self.wifi = None
        self.access = None
        self.hub = None
        self.live = None
        self.server = None
        self.port = 80
        self.started = time.ticks_ms()
        self.reboot = asyncio.Event()

    def connections(self):
        conns = getattr(self.server, "conns", None)  # microhttp.server.Server's live connections
        return None if conns is None else len(conns)

    def schedule_reboot(self, delay_ms=1000):
        async def later():
            await asyncio.sleep(delay_ms / 1000)  # let the response reach the phone first
            self.reboot.set()

        self._reboot_task = asyncio.create_task(later())


def log(msg):
    print(msg)


def load_board(ctx, machine):
    """Load and start the board's devices; on any failure, boot with none and say why."""
    try:
        from drivers.board import detect_board_id
        from drivers.board import load_board as load

        board_id = detect_board_id(ctx.cfg["board"])
        board = load("%s/%s.json" % (BOARDS_DIR, board_id), machine)
        ctx.board = board
        ctx.board_id = board_id
        ctx.device_list = list(board.device_list)
        ctx.devices = dict(board.devices)
        board.start()
        log("board: %s with %s" % (board_id, ", ".join(d.name for d in ctx.device_list) or "no devices"))
    except Exception as exc:  # BoardError, a missing file, a driver that would not start
        ctx.problems.append("board not loaded (%s); running without devices" % exc)
        log("board: " + ctx.problems[-1])
    finally:
        # The loader and the chip tables are boot-only (18 KB of heap on the 64-bit unix port):
        # give them back now, before the server starts, so their room is reused as one region.
        loader = sys.modules.get("drivers.board")
        if loader is not None:
            loader.unload()


def status_led(ctx):
    name = ctx.cfg["status_led"]
    led = ctx.devices.get(name) if name else None
    if led is None and ctx.board is not None:
        led = ctx.board.role("wifi_status")
    if led is None:
        for dev in ctx.device_list:
            if dev.kind == "led":
                led = dev
                break

    def show(state):
        cmd = _LED_FOR_STATE.get(state)
        if led is not None and cmd is not None:
            led.command(cmd)

    return show


def _env_int(name, default):
    import os

    getenv = getattr(os, "getenv", None)
    value = getenv(name) if getenv else None
    return int(value) if value else default


async def main(config_path=config.FILENAME, net=None, hw=None):
    """``net``/``hw`` replace the ``network``/``machine`` modules (tests); normally imported."""
    cfg = config.load(config_path)
    for problem in cfg.problems:
        log("config: " + problem)
    ctx = Context(cfg)
    if net is None:
        net = __import__("network")  # the plain Pico's stubs lack it; every target has it
    try:
        if hw is None:
            hw = __import__("machine")
    except ImportError as exc:
        ctx.problems.append("no machine module (%s)" % exc)
    else:
        load_board(ctx, hw)

    from microhttp import App
    from microhttp.sse import EventHub

    from app import api, web

    ctx.access = Access(cfg["auth"]["password"])
    ctx.commands = Coalescer(lambda name, cmd: ctx.devices[name].command(cmd))
    ctx.hub = EventHub(history=16, heartbeat=_HEARTBEAT_S)
    ctx.live = Live(ctx.hub)
    ctx.live.watch(ctx.device_list)
    ctx.wifi = wifi_mod.WiFi(net, cfg, log=log, on_state=status_led(ctx))

    app = App(max_body=1024)
    api.install(app, ctx)
    web.install(app, ctx)
    host = cfg["bind"]
    if sys.platform in _HOST_PLATFORMS and host == "0.0.0.0":
        host = "127.0.0.1"  # a simulated board never listens beyond this machine
    port = cfg["http_port"]
    if sys.platform in _HOST_PLATFORMS:
        port = _env_int("HTTP_PORT", port)  # tests and tools pick a free port on the host
    ctx.port = port
    ctx.server = await app.start(host, port, min_free=_MIN_FREE)
    log("http: listening on http://%s:%d/" % (host, port))

    dns = None
    state = await ctx.wifi.start()
    dns_port = cfg["dns_port"]
    if sys.platform in _HOST_PLATFORMS:
        dns_port = _env_int("DNS_PORT", dns_port)
    if state == wifi_mod.AP and dns_port:
        from app.dns import CaptiveDNS

        try:
            dns = await CaptiveDNS(ctx.wifi.ip or "192.168.4.1").start(host, dns_port)
            log("dns: captive portal on port %d" % dns_port)
        except OSError as exc:
            log("dns: not started (%s)" % exc)
            dns = None
    log("ready: wifi %s" % state)

    await ctx.reboot.wait()
    log("rebooting")
    if dns is not None:
        dns.stop()
    ctx.wifi.stop()
    ctx.live.close()
    await ctx.server.close()
    if ctx.board is not None:
        ctx.board.deinit()
    return "reboot"
