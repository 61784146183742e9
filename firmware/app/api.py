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
    GET  /api/settings         names, hostname, networks (no passwords), whether a password is set
    PUT  /api/settings         change some of them (app.settings): 400 naming the field, saved
    POST /api/restart          restart the board
    GET  /api/config           the configuration as a backup file (without the password)
    PUT  /api/config           upload one: checked whole, 400 naming the field, saved, restart
    POST /api/factory-reset    {"confirm": true}: forget the configuration and state, restart
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

from app.catalog import Catalog
from app.control import SUPERSEDED
from app.firmware import VERSION, log, recent_lines

_JSON = "application/json"


def _error(status, message, field=None):
    body = {"error": message}
    if field is not None:
        body["field"] = field
    return Response.json(body, status)


async def _json_object(request, max_size=None):
    # ``max_size``: a body larger than the app's max_body may come (413 over it).
    # Requiring a JSON media type also stops cross-site HTML forms (which cannot send one
    # without a CORS preflight we never approve) from changing anything: a CSRF guard.
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype != _JSON:
        raise HTTPError(415, "send the body as application/json")
    try:
        body = await request.json(max_size)
    except (HTTPError, OSError):
        raise  # the server answers an HTTPError and ends a connection whose peer is gone
    except Exception:
        raise HTTPError(400, "body is not valid JSON")
    if not isinstance(body, dict):
        raise HTTPError(400, "body must be a JSON object")
    return body


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


def make_catalog(ctx):
    """Render the static JSON of the board and its devices once (see app.catalog)."""
    board = ctx.board
    return Catalog({
        "board": {"id": getattr(board, "id", None) or ctx.board_id,
                  "name": getattr(board, "name", None) or ctx.board_id},
        "hostname": ctx.settings["hostname"],
    }, ctx.device_list)


def _body(pieces):
    return Response(pieces, content_type=_JSON)


def _refused(exc):
    return _error(400, str(exc), exc.field)


def install(app, ctx):
    # Now, at boot, while start-up collects often: what the catalog keeps sits low in the heap.
    ctx.catalog = make_catalog(ctx)

    if ctx.access is not None:  # a password is set

        @app.before_request
        def guard(request):
            if not ctx.access.allowed(request):
                return _error(401, "authentication required")
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
        cmd = await _json_object(request)
        try:
            # Validate before queueing, so a bad command is refused at once and changes nothing.
            validate_command(dev.COMMANDS, dev.EXCLUSIVE, cmd)
            result = await ctx.commands.submit(name, cmd)
        except CommandError as exc:
            return _refused(exc)
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
        body = await _json_object(request)
        from app.bindings import check  # loaded when bindings are first set

        entries, errors = check(body.get("bindings"), ctx.devices)
        if errors:
            return _refused(errors[0])
        from app import config  # the config writer, loaded only when a setting is saved

        settings = dict(ctx.settings)
        settings["bindings"] = entries
        config.save(ctx.config_path, settings)  # atomic: the old file or the new one
        ctx.settings = settings
        ctx.set_bindings(entries)
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
        body = await _json_object(request)
        ssid = body.get("ssid")
        password = body.get("password", "")
        if not isinstance(ssid, str) or not 0 < len(ssid) <= 32:
            return _error(400, "field 'ssid' must be 1 to 32 characters", "ssid")
        if not isinstance(password, str) or len(password) > 63 or 0 < len(password) < 8:
            return _error(400, "field 'password' must be empty or 8 to 63 characters", "password")
        from app import config  # the config writer, loaded only when a setting is saved

        config.add_network(ctx.settings, ssid, password, ctx.config_path)
        ctx.problems = []
        ctx.schedule_reboot()
        return {"saved": ssid, "rebooting": True}, 202

    # The settings' code (app.settings) loads with the first settings request: the page asks
    # only when its settings are opened.
    @app.get("/api/settings")
    def get_settings(request):
        from app import settings

        return settings.current(ctx)

    @app.put("/api/settings")
    async def put_settings(request):
        body = await _json_object(request)
        from app import settings

        try:
            saved, restart = settings.change(ctx, body, lambda candidate: ctx.access.verify(request, candidate))
        except CommandError as exc:
            return _refused(exc)
        if "labels" in saved:
            ctx.catalog = make_catalog(ctx)
            ctx.live.publish("resync", {})  # every open page reads the new names
        log("settings: %s saved" % ", ".join(saved))
        if restart:
            ctx.schedule_reboot()
        return {"saved": saved, "rebooting": restart}

    @app.post("/api/restart")
    def restart(request):
        log("restart asked for from %s" % request.client_addr[0])
        ctx.schedule_reboot()
        return {"rebooting": True}, 202

    @app.get("/api/config")
    def download_config(request):
        from app import settings

        resp = Response.json(settings.backup(ctx))
        # RFC 6266: saved as a file named after the board, not shown.
        resp.headers["content-disposition"] = 'attachment; filename="%s-config.json"' % ctx.settings["hostname"]
        return resp

    @app.put("/api/config")
    async def upload_config(request):
        from app import settings

        body = await _json_object(request, settings.MAX_CONFIG_BYTES)
        try:
            settings.restore(ctx, body)
        except CommandError as exc:
            return _refused(exc)
        log("settings: configuration uploaded")
        ctx.schedule_reboot()
        return {"saved": True, "rebooting": True}, 202

    @app.post("/api/factory-reset")
    async def factory_reset(request):
        body = await _json_object(request)
        if body.get("confirm") is not True:
            return _error(400, 'send {"confirm": true} to forget every setting', "confirm")
        from app import settings

        settings.factory_reset(ctx)
        log("settings: factory reset")
        ctx.schedule_reboot()
        return {"reset": True, "rebooting": True}, 202

    @app.post("/api/login")
    async def login(request):
        body = await _json_object(request)
        if ctx.access is None:
            return {"ok": True, "auth": False}
        wait = ctx.access.retry_after(request)  # this client's address only
        if wait:
            resp = _error(429, "too many wrong passwords; try again in %d s" % wait)
            resp.headers["retry-after"] = str(wait)  # RFC 6585 section 4
            return resp
        token = ctx.access.login(request, body.get("password"))
        if token is None:
            return _error(401, "wrong password", "password")
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
