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
    # A route without parameters stays a str and matches by one comparison, with no split;
    # the others are compiled (and matched) by microhttp.params, loaded on first use.
    if "<" not in url:
        return url
    from microhttp.params import compile

    return compile(url)


def _verb(m):
    # One function body (bytecode) for the five shortcut decorators below.
    return lambda self, url: self.route(url, (m,))


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

    # @app.get(url) is @app.route(url, ("GET",)); likewise post, put, patch, delete.
    get = _verb("GET")
    post = _verb("POST")
    put = _verb("PUT")
    patch = _verb("PATCH")
    delete = _verb("DELETE")

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
        from microhttp.shutdown import run

        run(self, host, port, limits)

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
                from microhttp.params import match

                a = match(segs, parts)
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
