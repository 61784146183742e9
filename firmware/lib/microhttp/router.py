# microhttp.router: App = routes + hooks + error handlers; sub-apps mount under a prefix.
#
# Dispatch order for one request: before_request hooks (outer app first), the route handler
# (or, when no route of this app has the path, the sub-app mounted over it, recursively),
# error handlers (by status for HTTPError, else by exception class, innermost app first),
# then after_request hooks (innermost first). Only the common path lives here: a request
# that matches a route of an app without hooks or mounts. Hooks, mounts, 404/405/OPTIONS,
# error handlers and error responses are in microhttp.slowpath, loaded on first use (on a
# board, loaded bytecode takes heap from requests).
from microhttp import compat
from microhttp.response import make

_E = {}  # type: dict  # the (never mutated) arguments of a route without parameters


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

        if "<" in url:
            # A route with parameters is compiled (and matched) by microhttp.params, loaded
            # then; the others stay a str, matched by one comparison and no split.
            from microhttp.params import compile

            url = compile(url)

        def d(f):
            self.routes.append((tuple(m.upper() for m in methods), url, f))
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
        """Serve ``app``'s routes under ``prefix`` (its hooks run for those routes only). This
        app's own routes come first: a sub-app (static files, say) may be mounted at "/"."""
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
            # Hooks and mounts are microhttp.slowpath's: an app without them never loads it,
            # and its handler is called from this frame (one coroutine frame less a request).
            if self.befores or self.mounts:
                from microhttp import slowpath

                r = await slowpath.handle(self, req, req.path)
            else:
                r = self._route(req, req.path)
                if isinstance(r, compat.CORO):
                    r = await r
            r = make(r)
        except MemoryError:
            # Often chance with other requests in flight: a safe request gets a second try
            from microhttp import slowpath

            return await slowpath.again(self, req)
        except Exception as e:
            from microhttp import slowpath

            return await slowpath.failed(self, req, e)
        if self.afters:
            from microhttp import slowpath

            r = await slowpath.after(self, req, r)
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
