# microhttp.slowpath: the uncommon paths of App.dispatch, loaded on first use: hooks,
# mounted sub-apps, 404/405/OPTIONS, error handlers (by status, then by exception class) and
# the JSON error responses. A device serving its usual routes never loads this bytecode.
import gc

from microhttp import compat
from microhttp.errors import HTTPError
from microhttp.response import Response, make

# RFC 9110 section 15: the reason phrases of the statuses microhttp raises itself, sent as
# the error message of an HTTPError raised without one (the parser's, for one).
REASONS = {
    400: "bad request",
    404: "not found",
    405: "method not allowed",
    408: "request timeout",
    413: "content too large",
    414: "URI too long",
    415: "unsupported media type",
    431: "request header fields too large",
    500: "internal server error",
    501: "not implemented",
    503: "service unavailable",
    505: "HTTP version not supported",
}


async def call(f, *a):
    """Call a sync or async function."""
    r = f(*a)
    if isinstance(r, compat.CORO):
        r = await r
    return r


async def handle(app, req, path):
    """What answers ``req`` in an app with hooks or mounts: a before_request hook's return, a
    mounted sub-app's response (when none of ``app``'s own routes has ``path``) or the route
    handler's return (for make())."""
    for f in app.befores:
        r = await call(f, req)
        if r is not None:
            return r
    if app.mounts and not allowed(app, path):
        for pre, sub in app.mounts:
            if path.startswith(pre) and (len(path) == len(pre) or path[len(pre)] == "/"):
                try:
                    r = make(await handle(sub, req, path[len(pre):] or "/"))
                except Exception as e:
                    r = await handle_error(sub, req, e)
                return await run_afters(sub, req, r)
    return await call(app._route, req, path)


async def run_afters(app, req, r):
    for f in app.afters:
        x = await call(f, req, r)
        if x is not None:
            r = make(x)
    return r


async def after(app, req, r):
    """Response ``r`` through ``app``'s after_request hooks; a hook that raises gets the error
    response (not the error handlers: they answered already, or were not needed)."""
    try:
        return await run_afters(app, req, r)
    except MemoryError:
        raise
    except Exception as e:
        return error_response(req, e)


def allowed(app, path):
    """The methods of ``app``'s own routes for ``path`` (empty when none has it)."""
    parts = path.split("/")
    allow = []
    for ms, segs, _ in app.routes:
        if isinstance(segs, str):
            hit = segs == path
        else:
            from microhttp.params import match

            hit = match(segs, parts) is not None
        if hit:
            allow.extend(ms)
    return allow


def unrouted(app, req, path):
    """No route of ``app`` takes ``req``: 404, 405 with Allow, or OPTIONS' 204 with Allow."""
    allow = allowed(app, path)
    if not allow:
        raise HTTPError(404, "not found")
    if "GET" in allow:
        allow.append("HEAD")
    allow.append("OPTIONS")
    al = ", ".join(sorted(set(allow)))
    if req.method == "OPTIONS":
        return Response(b"", 204, {"allow": al})
    raise HTTPError(405, "method not allowed", {"allow": al})


async def handle_error(app, req, e):
    """``app``'s error handler's response for ``e``; re-raises ``e`` when there is none."""
    if isinstance(e, MemoryError):
        raise e
    h = isinstance(e, HTTPError)
    f = app.errors.get(e.status) if h else None
    if f is None:
        for k in app.errors:
            if not isinstance(k, int) and isinstance(e, k):
                f = app.errors[k]
                break
        else:
            f = None if h else app.errors.get(500)
    if f is None:
        raise e
    r = make(await call(f, req, e))
    if not h:
        r.headers["connection"] = "close"  # after a crash, trust nothing left on the wire
    return r


async def failed(app, req, e):
    """The response when routing or a handler raised ``e``: the error handler's (then the
    after_request hooks run), else the error response."""
    try:
        r = await handle_error(app, req, e)
        return await run_afters(app, req, r)
    except Exception as x:
        return error_response(req, x)


def error_response(req, e):
    """``{"error": message}`` with the HTTPError's status, else a logged 500 that closes the
    connection. MemoryError is re-raised: the server answers it (503) and closes."""
    if isinstance(e, MemoryError):
        raise e
    if isinstance(e, HTTPError):
        r = Response.json({"error": e.message or REASONS.get(e.status, "HTTP %d" % e.status)}, e.status)
        if e.headers:
            for k in e.headers:
                r.headers[k] = e.headers[k]
        return r
    from microhttp.log import logger

    logger.exception("%s %s" % (req.method, req.path), e)
    r = Response.json({"error": "internal server error"}, 500)
    r.headers["connection"] = "close"
    return r


async def again(app, req):
    """The response to ``req`` after its handler ran out of memory, before anything was sent.

    With several requests in flight a fragmented heap can lack a hole of 176 bytes while
    10 KB are free (a 4-client soak on a 32-bit ESP32 heap failed so about one run in ten), and the
    same request fits once the others are answered. So a safe request (GET or HEAD, RFC 9110
    section 9.2.1: handling it twice changes nothing) whose body has been read is dispatched
    once more, when it is the only one in flight (after admit_ms at most). Anything else, or
    a second failure, raises MemoryError: the server answers 503. (This module is loaded by
    then on most apps: a 404, an error or a hook loads it.)"""
    c = req.conn
    srv = c.srv
    if getattr(req, "again", 0) or req.method not in ("GET", "HEAD") or not c.done:
        raise MemoryError
    req.again = 1
    t = compat.ticks_ms()
    while srv.busy > 1 and compat.ticks_diff(compat.ticks_ms(), t) < srv.admit_ms:
        await compat.wait_ms(100)  # woken when a request is answered, or asks again
    gc.collect()
    return await app.dispatch(req)
