# microhttp.slowpath: the uncommon paths of App.dispatch, loaded on first use: mounted
# sub-apps, 404/405/OPTIONS, error handlers (by status, then by exception class) and the
# JSON error responses. A device serving its usual routes never loads this bytecode.
from microhttp.errors import HTTPError
from microhttp.response import Response, make
from microhttp.router import _after, call


async def mounted(app, req, path):
    """The response of the sub-app mounted over ``path``, or None when none is."""
    for pre, sub in app.mounts:
        if path.startswith(pre) and (len(path) == len(pre) or path[len(pre)] == "/"):
            try:
                r = make(await sub._handle(req, path[len(pre):] or "/"))
            except Exception as e:
                r = await handle_error(sub, req, e)
            return await _after(sub, req, r) if sub.afters else r
    return None


def unrouted(app, req, path):
    """No route of ``app`` takes ``req``: 404, 405 with Allow, or OPTIONS' 204 with Allow."""
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
        return await _after(app, req, r) if app.afters else r
    except Exception as x:
        return error_response(req, x)


def error_response(req, e):
    """``{"error": message}`` with the HTTPError's status, else a logged 500 that closes the
    connection. MemoryError is re-raised: the server answers it (503) and closes."""
    if isinstance(e, MemoryError):
        raise e
    if isinstance(e, HTTPError):
        r = Response.json({"error": e.message}, e.status)
        if e.headers:
            for k in e.headers:
                r.headers[k] = e.headers[k]
        return r
    from microhttp.log import logger

    logger.exception("%s %s" % (req.method, req.path), e)
    r = Response.json({"error": "internal server error"}, 500)
    r.headers["connection"] = "close"
    return r
