# microhttp.router: App = routes + hooks + error handlers; sub-apps mount under a prefix.
#
# Dispatch order for one request: before_request hooks (outer app first), the route handler
# (or a mounted sub-app, recursively), error handlers (by status for HTTPError, else by
# exception class, innermost app first), then after_request hooks (innermost first).
# Only the common path lives here: a request that matches a route of this app. Mounted
# sub-apps, 404/405/OPTIONS, error handlers and error responses are in microhttp.slowpath,
# loaded on first use (on a board, loaded bytecode takes heap from requests).
from microhttp import compat
from microhttp.response import make


async def call(f, *a, **k):
    """Call a sync or async function."""
    r = f(*a, **k)
    if isinstance(r, compat.CORO):
        r = await r
    return r


_E = {}  # type: dict  # the (never mutated) arguments of a route without parameters


def _compile(url):
    # "/a/<int:id>/<path:rest>" -> ["", "a", ("int", "id"), ("path", "rest")]; a route
    # without parameters stays a str and matches by one comparison, with no split.
    if "<" not in url:
        return url
    segs = []
    for s in url.split("/"):
        if s[:1] == "<" and s[-1:] == ">":
            c, _, n = s[1:-1].rpartition(":")
            if c not in ("", "str", "int", "path"):
                raise ValueError("unknown converter " + c)
            s = (c or "str", n)
        segs.append(s)
    return segs


def _match(segs, parts):
    if len(parts) < len(segs):
        return None
    a = {}  # not _E: parameters are stored in it
    for i, s in enumerate(segs):
        p = parts[i]
        if isinstance(s, str):
            if p != s:
                return None
            continue
        c, n = s
        if c == "path":
            p = "/".join(parts[i:])
            if not p:
                return None
            a[n] = p
            return a
        if not p:
            return None
        if c == "int":
            try:
                p = int(p)
            except ValueError:
                return None
        a[n] = p
    return a if len(parts) == len(segs) else None


class App:
    """Routes, hooks and error handlers.

    :param max_body: largest body ``request.body()``/``json()``/``form()`` accept (413 over)
    """

    def __init__(self, max_body=16384):
        self.max_body = max_body
        self.routes = []
        self.mounts = []
        self.befores = []
        self.afters = []
        self.errors = {}

    def route(self, url, methods=("GET",)):
        """Decorator: ``handler(request, **params)`` for ``url`` and ``methods``."""

        def d(f):
            self.routes.append((tuple(m.upper() for m in methods), _compile(url), f))
            return f

        return d

    def get(self, url):
        return self.route(url, ("GET",))

    def post(self, url):
        return self.route(url, ("POST",))

    def put(self, url):
        return self.route(url, ("PUT",))

    def patch(self, url):
        return self.route(url, ("PATCH",))

    def delete(self, url):
        return self.route(url, ("DELETE",))

    def before_request(self, f):
        """``f(request)``; a non-None return is the response (the handler is skipped)."""
        self.befores.append(f)
        return f

    def after_request(self, f):
        """``f(request, response)``; a non-None return replaces the response."""
        self.afters.append(f)
        return f

    def errorhandler(self, key):
        """Decorator for ``f(request, exc)``; ``key`` is a status code or an exception class."""

        def d(f):
            self.errors[key] = f
            return f

        return d

    def mount(self, app, prefix):
        """Serve ``app``'s routes under ``prefix`` (its hooks run for those routes only)."""
        self.mounts.append((prefix.rstrip("/"), app))

    async def start(self, host="0.0.0.0", port=80, **limits):
        """Start serving; returns a started ``microhttp.server.Server``."""
        from microhttp.server import Server

        return await Server(self, **limits).start(host, port)

    def run(self, host="0.0.0.0", port=80, **limits):
        """Serve until the server is closed (blocking)."""
        import asyncio

        async def main():
            s = await self.start(host, port, **limits)
            await s.wait_closed()

        asyncio.run(main())

    async def dispatch(self, req):
        """The response for ``req``; only MemoryError and cancellation escape."""
        try:
            # Without hooks or mounts, the handler is called from a plain method: one coroutine
            # frame (allocated per request) less.
            if self.befores or self.mounts:
                r = await self._handle(req, req.path)
            else:
                r = self._route(req, req.path)
                if isinstance(r, compat.CORO):
                    r = await r
            r = make(r)
        except MemoryError:
            raise  # loading the error path now would only make it worse: the server answers 503
        except Exception as e:
            from microhttp import slowpath

            return await slowpath.failed(self, req, e)
        if self.afters:
            try:
                r = await _after(self, req, r)
            except MemoryError:
                raise
            except Exception as e:
                from microhttp import slowpath

                return slowpath.error_response(req, e)
        return r

    async def _handle(self, req, path):
        # What answers req: a before_request hook's return, a mounted sub-app's response or
        # the route handler's return (for make()).
        for f in self.befores:
            r = await call(f, req)
            if r is not None:
                return r
        if self.mounts:
            from microhttp import slowpath

            r = await slowpath.mounted(self, req, path)
            if r is not None:
                return r
        r = self._route(req, path)
        if isinstance(r, compat.CORO):
            r = await r
        return r

    def _route(self, req, path):
        # The return of the handler of the route for req.method and path (a coroutine for an
        # async handler); 404, 405 or OPTIONS' answer when there is none.
        m = req.method
        parts = None
        for ms, segs, f in self.routes:
            if isinstance(segs, str):
                a = _E if segs == path else None
            else:
                if parts is None:
                    parts = path.split("/")
                a = _match(segs, parts)
            if a is not None and (m in ms or (m == "HEAD" and "GET" in ms)):
                return f(req, **a)
        from microhttp import slowpath

        return slowpath.unrouted(self, req, path)


async def _after(app, req, r):
    for f in app.afters:
        x = await call(f, req, r)
        if x is not None:
            r = make(x)
    return r
