"""The device JSON API (documented in docs/device-api.md).

    GET  /api/board            board, devices with state, Wi-Fi, config problems, auth on/off
    GET  /api/devices          devices with state
    GET  /api/devices/<name>   one device (404 if unknown)
    POST /api/devices/<name>   command one device: 200 new state, 400 naming the field, 404
    GET  /api/health           diagnostics: uptime, free heap, Wi-Fi, versions, reset cause, state saved
    GET  /api/log              the last lines of the firmware's log (app.firmware.log)
    GET  /api/bindings         the button bindings (app.bindings)
    PUT  /api/bindings         replace them: {"bindings": [...]}, 400 naming the field, saved
    GET  /api/events           server-sent events (see app.events)
    GET  /api/wifi/scan        networks in range
    POST /api/wifi             save {"ssid", "password"} first in the list, then reboot
    /api/settings...           names, hostname, networks, password, backup, restart, factory
                               reset: app.settings, loaded by each request there
    POST /api/login, /api/logout

``install(app, ctx)`` adds the routes; ``ctx`` is the ``app.firmware.Firmware`` with the
board, devices, coalescer, Wi-Fi, settings, access control (None without a password), hub and
reboot function.
"""

import gc
import sys
import time

from drivers.device import CommandError, validate_command
from microhttp import HTTPError, Response

from app.catalog import for_firmware
from app.control import SUPERSEDED
from app.firmware import VERSION, log, recent_lines
from app.jsonapi import JSON, error, json_object, refused


def _device(ctx, name):
    dev = ctx.devices.get(name)
    if dev is None:
        raise HTTPError(404, "no device named '%s'" % name)
    return dev


def board_live(ctx):
    """The parts of /api/board that change while the board runs (devices aside)."""
    return {
        "wifi": ctx.wifi.info() if ctx.wifi is not None else {"state": "off"},
        "problems": ctx.problems,
        "auth": ctx.access is not None,
    }


def largest_free_block(free):
    """The largest block the heap can give now, to within 256 bytes, or None where the runtime
    has no heap figures (``free`` < 0). Far below ``free``, the heap is fragmented: that much
    is free, but not in one piece. MicroPython has no call that returns it, so it is searched
    for: with the collector held off, an allocation too large fails at once instead of first
    collecting, and each one that fits is collected before the next try."""
    if free < 0:
        return None
    low, high = 0, free
    enabled = gc.isenabled()
    gc.disable()
    try:
        while high - low > 256:
            size = (low + high) // 2
            if _fits(size):
                low = size
                gc.collect()
            else:
                high = size
    finally:
        if enabled:
            gc.enable()
    return low


def _fits(size):
    # A call of its own: the collector is conservative, and a reference left in the caller's
    # frame would keep the block allocated through the next try.
    try:
        bytearray(size)
    except MemoryError:
        return False
    return True


def _body(pieces):
    return Response(pieces, content_type=JSON)


def install(app, ctx):
    # Now, at boot, while start-up collects often: what the catalog keeps sits low in the heap.
    ctx.catalog = for_firmware(ctx)

    if ctx.access is not None:  # a password is set

        @app.before_request
        def guard(request):
            if not ctx.access.allowed(request):
                return error(401, "authentication required")
            return None

    # Bodies of small pieces (app.catalog), streamed through the server's output buffer: no
    # string of the whole description per request, which a fragmented heap may not fit.
    @app.get("/api/board")
    def get_board(request):
        return _body(ctx.catalog.board(board_live(ctx)))

    @app.get("/api/devices")
    def get_devices(request):
        return _body(ctx.catalog.device_list())

    @app.get("/api/devices/<name>")
    def get_device(request, name):
        return _body(ctx.catalog.device(_device(ctx, name)))

    @app.post("/api/devices/<name>")
    async def command_device(request, name):
        dev = _device(ctx, name)
        cmd = await json_object(request)
        try:
            # Validate before queueing, so a bad command is refused at once and changes nothing.
            validate_command(dev.COMMANDS, dev.EXCLUSIVE, cmd)
            result = await ctx.commands.submit(name, cmd)
        except CommandError as exc:
            return refused(exc)
        if result == SUPERSEDED:
            return {"name": name, "applied": False, "state": dev.state()}
        return {"name": name, "applied": True, "state": result}

    @app.get("/api/health")
    def health(request):
        gc.collect()  # report what is really free, not what garbage happens to hide
        free = gc.mem_free() if hasattr(gc, "mem_free") else -1
        wifi = ctx.wifi
        return {
            "uptime_s": time.ticks_diff(time.ticks_ms(), ctx.started) // 1000,
            "free_heap": free,
            "largest_free_block": largest_free_block(free),
            "connections": ctx.connections(),
            "wifi": {"state": wifi.state if wifi else "off", "rssi": wifi.rssi() if wifi else None,
                     "ip": wifi.ip if wifi else None},
            "hostname": ctx.settings["hostname"],
            "version": VERSION,
            "runtime": "%s %s" % (sys.implementation.name, ".".join(str(n) for n in sys.implementation.version[:3])),
            "reset_cause": ctx.reset_cause,
            "events_published": ctx.live.published if ctx.live else 0,
            # Whether the outputs' state on flash is current (None: the board keeps none).
            "state_saved": not ctx.power_on.unsaved if ctx.power_on and ctx.power_on.kept else None,
        }

    @app.get("/api/events")
    def events(request):
        return ctx.hub.response(request)

    @app.get("/api/log")
    def get_log(request):
        return {"lines": recent_lines}

    @app.get("/api/bindings")
    def get_bindings(request):
        return {"bindings": ctx.settings["bindings"]}

    @app.put("/api/bindings")
    async def put_bindings(request):
        body = await json_object(request)
        from app.bindings import check  # loaded when bindings are first set

        entries, errors = check(body.get("bindings"), ctx.devices)
        if errors:
            return refused(errors[0])
        from app import config  # the config writer, loaded only when a setting is saved

        settings = dict(ctx.settings)
        settings["bindings"] = entries
        config.save(ctx.config_path, settings)  # atomic: the old file or the new one
        ctx.settings = settings
        ctx.set_bindings(entries)
        ctx.forget_problems("bindings")  # what boot said of the old ones
        log("bindings: %d saved" % len(entries))
        return {"bindings": entries}

    @app.get("/api/wifi/scan")
    def wifi_scan(request):
        try:
            return {"networks": ctx.wifi.scan()}
        except OSError as exc:
            raise HTTPError(503, "scan failed: %s" % exc)

    @app.post("/api/wifi")
    async def wifi_save(request):
        body = await json_object(request)
        ssid = body.get("ssid")
        password = body.get("password", "")
        if not isinstance(ssid, str) or not 0 < len(ssid) <= 32:
            return error(400, "field 'ssid' must be 1 to 32 characters", "ssid")
        if not isinstance(password, str) or len(password) > 63 or 0 < len(password) < 8:
            return error(400, "field 'password' must be empty or 8 to 63 characters", "password")
        from app import config  # the config writer, loaded only when a setting is saved

        config.add_network(ctx.settings, ssid, password, ctx.config_path)
        ctx.problems = []
        ctx.schedule_reboot()
        return {"saved": ssid, "rebooting": True}, 202

    # The settings' routes (app.settings) are loaded by each settings request and leave RAM
    # after it; the page asks only when its settings are opened.
    def settings_routes():
        from app.settings import make_app

        return make_app(ctx)

    app.mount(settings_routes, "/api/settings")

    @app.post("/api/login")
    async def login(request):
        body = await json_object(request)
        if ctx.access is None:
            return {"ok": True, "auth": False}
        wait = ctx.access.retry_after(request)  # this client's address only
        if wait:
            resp = error(429, "too many wrong passwords; try again in %d s" % wait)
            resp.headers["retry-after"] = str(wait)  # RFC 6585 section 4
            return resp
        token = ctx.access.login(request, body.get("password"))
        if token is None:
            return error(401, "wrong password", "password")
        resp = Response.json({"ok": True, "token": token})
        # Strict: the browser never sends it with a request started by another site.
        resp.set_cookie("sid", token, path="/", http_only=True, same_site="Strict")
        return resp

    @app.post("/api/logout")
    def logout(request):
        if ctx.access is not None:
            ctx.access.logout(request.cookies.get("sid"))
        resp = Response.json({"ok": True})
        resp.delete_cookie("sid")
        return resp
