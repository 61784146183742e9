# microhttp.router: App (routes, hooks, error handlers, mounted sub-apps) and dispatch: which
# of them answers a request.
#
# Dispatch order for one request: before_request hooks (outer app first); the route handler,
# or, when no route of this app has the path, the sub-app mounted over it (recursively), or
# 404, 405 with Allow, or OPTIONS' 204; on an exception, the error handler (by status for
# HTTPError, else by exception class, innermost app first), else the JSON error response;
# then after_request hooks (innermost first), for error responses too.
import asyncio

from microhttp import compat
from microhttp.errors import HTTPError
from microhttp.response import Response, make
from microhttp.server import Server

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

_NO_ARGS = {}  # type: dict  # (never mutated) the arguments of a route without parameters


def path_in(path, patterns):
    """Whether ``path`` is one of ``patterns``, where an entry ending in ``*`` is a prefix (the
    exempt paths of microhttp.auth and microhttp.csrf)."""
    for pattern in patterns:
        if pattern == path or (pattern.endswith("*") and path.startswith(pattern[:-1])):
            return True
    return False


def guarded(check, handler):
    """``handler`` behind ``check``: a route handler that answers with what ``check(request)``
    returns when that is not None (a refusal), and runs ``handler`` otherwise (the route
    decorators of microhttp.auth and microhttp.csrf)."""

    async def guarded_handler(request, **params):
        refusal = check(request)
        if refusal is not None:
            return refusal
        return await handler(request, **params)

    return guarded_handler


def _verb(method):
    # One function body (bytecode) for the five shortcut decorators below.
    return lambda self, url: self.route(url, (method,))


def _unanswerable(error):
    # Errors no error handler or error response may take: out of memory (the server answers
    # 503 and closes) and the peer gone (nothing can reach it: the server ends the connection
    # quietly, as for a reset between requests).
    return isinstance(error, MemoryError) or isinstance(error, OSError) and compat.gone(error)


async def _call(function, *args):
    """Call a sync or async function."""
    result = function(*args)
    if isinstance(result, compat.CORO):
        result = await result
    return result


class App:
    """Routes, hooks and error handlers.

    :param max_body: largest body ``request.body()``/``json()``/``form()`` accept (413 over)
    """

    def __init__(self, max_body=16384):
        self.max_body = max_body
        self.routes = []  # (methods, path or compiled pattern, handler)
        self.mounts = []  # (prefix, sub-app)
        self.befores = []
        self.afters = []
        self.errors = {}  # status or exception class -> handler

    def route(self, url, methods=("GET",)):
        """Decorator: ``handler(request, **params)`` for ``url`` and ``methods``."""

        if "<" in url:
            # A route with parameters is compiled (and matched) by microhttp.params, loaded
            # then; the others stay a str, matched by one comparison and no split.
            from microhttp.params import compile

            url = compile(url)

        def decorator(handler):
            self.routes.append((tuple(method.upper() for method in methods), url, handler))
            return handler

        return decorator

    # @app.get(url) is @app.route(url, ("GET",)); likewise post, put, patch, delete.
    get = _verb("GET")
    post = _verb("POST")
    put = _verb("PUT")
    patch = _verb("PATCH")
    delete = _verb("DELETE")

    def before_request(self, hook):
        """``hook(request)``; a non-None return is the response (the handler is skipped)."""
        self.befores.append(hook)
        return hook

    def after_request(self, hook):
        """``hook(request, response)``; a non-None return replaces the response. Runs for
        every response of this app's routes and mounts, error responses included."""
        self.afters.append(hook)
        return hook

    def errorhandler(self, key):
        """Decorator for ``f(request, exc)``; ``key`` is a status code or an exception class."""

        def decorator(handler):
            self.errors[key] = handler
            return handler

        return decorator

    def mount(self, app, prefix):
        """Serve ``app``'s routes under ``prefix`` (its hooks run for those routes only). This
        app's own routes come first: a sub-app (static files, say) may be mounted at "/".
        ``app`` may also be a function that returns the App: it is called by each request
        under ``prefix``, and what it makes is dropped after the request, so the routes of a
        feature used seldom take RAM only while they answer (a function that wants its App
        kept keeps it itself)."""
        self.mounts.append((prefix.rstrip("/"), app))

    async def start(self, host="0.0.0.0", port=80, **limits):
        """Start serving; returns a started ``microhttp.server.Server``."""
        return await Server(self, **limits).start(host, port)

    def run(self, host="0.0.0.0", port=80, **limits):
        """Serve until the server is closed (blocking)."""

        async def serve():
            server = await self.start(host, port, **limits)
            await server.wait_closed()

        asyncio.run(serve())

    async def dispatch(self, request):
        """The response for ``request``; only MemoryError, a peer gone (an OSError, see
        compat.gone) and cancellation escape."""
        try:
            try:
                response = await self._answer(request, request.path)
            except MemoryError:
                raise
            except Exception as e:
                response = await self._handle_error(request, e)
        except MemoryError:
            raise
        except Exception as e:
            response = self.error_response(request, e)
        if not self.afters:
            return response  # no coroutine to allocate for hooks that are not there
        try:
            return await self._after(request, response)
        except MemoryError:
            raise
        except Exception as e:
            return self.error_response(request, e)  # a hook failed: its error, no hooks again

    async def _answer(self, request, path):
        # This app's response to ``request`` at ``path``: a before_request hook's, the route
        # handler's, or the sub-app's mounted over the path (its own error handlers and
        # after_request hooks included; an error none of its handlers takes goes up to us).
        for hook in self.befores:
            result = await _call(hook, request)
            if result is not None:
                return make(result)
        handler, args = self._route(request.method, path)
        if handler is not None:
            result = handler(request, **args)
            if isinstance(result, compat.CORO):
                result = await result
            return make(result)
        if self.mounts and not self.allowed(path):
            for prefix, sub in self.mounts:
                if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                    if not isinstance(sub, App):  # mounted as the function that makes it
                        sub = sub()
                    try:
                        response = await sub._answer(request, path[len(prefix):] or "/")
                    except MemoryError:
                        raise
                    except Exception as e:
                        response = await sub._handle_error(request, e)
                    return await sub._after(request, response)
        return self._unrouted(request, path)

    def _route(self, method, path):
        # (handler, arguments) of this app's route for ``method`` and ``path``, else (None, None).
        parts = None
        for methods, pattern, handler in self.routes:
            if isinstance(pattern, str):
                args = _NO_ARGS if pattern == path else None
            else:
                if parts is None:
                    parts = path.split("/")
                from microhttp.params import match  # loaded by route() already

                args = match(pattern, parts)
            if args is not None and (method in methods or (method == "HEAD" and "GET" in methods)):
                return handler, args
        return None, None

    def allowed(self, path):
        """The methods of this app's own routes for ``path`` (empty when none has it)."""
        parts = path.split("/")
        methods = []
        for route_methods, pattern, _ in self.routes:
            if isinstance(pattern, str):
                hit = pattern == path
            else:
                from microhttp.params import match

                hit = match(pattern, parts) is not None
            if hit:
                methods.extend(route_methods)
        return methods

    def _unrouted(self, request, path):
        # No route takes the request: 404, 405 with Allow, or OPTIONS' 204 with Allow.
        allow = self.allowed(path)
        if not allow:
            raise HTTPError(404, "not found")
        if "GET" in allow:
            allow.append("HEAD")
        allow.append("OPTIONS")
        allow = ", ".join(sorted(set(allow)))
        if request.method == "OPTIONS":
            return Response(b"", 204, {"allow": allow})
        raise HTTPError(405, "method not allowed", {"allow": allow})

    async def _handle_error(self, request, error):
        # This app's error handler's response for ``error``; re-raises it when none takes it.
        if _unanswerable(error):
            raise error
        is_http = isinstance(error, HTTPError)
        handler = self.errors.get(error.status) if is_http else None
        if handler is None:
            for key in self.errors:
                if not isinstance(key, int) and isinstance(error, key):
                    handler = self.errors[key]
                    break
            else:
                handler = None if is_http else self.errors.get(500)
        if handler is None:
            raise error
        response = make(await _call(handler, request, error))
        if not is_http:
            response.headers["connection"] = "close"  # after a crash, trust nothing left on the wire
        return response

    async def _after(self, request, response):
        for hook in self.afters:
            result = await _call(hook, request, response)
            if result is not None:
                response = make(result)
        return response

    def error_response(self, request, error):
        """``{"error": message}`` with the HTTPError's status, else a logged 500 that closes
        the connection (``request`` is None when the head could not be parsed). MemoryError
        and a peer gone are re-raised: the server answers the first (503) and closes, and ends
        the connection of the second quietly."""
        if _unanswerable(error):
            raise error
        if isinstance(error, HTTPError):
            response = Response.json({"error": error.message or REASONS.get(error.status, "HTTP %d" % error.status)},
                                     error.status)
            if error.headers:
                for name in error.headers:
                    response.headers[name] = error.headers[name]
            return response
        from microhttp.log import logger

        logger.exception("%s %s" % (request.method, request.path) if request else "request", error)
        response = Response.json({"error": "internal server error"}, 500)
        response.headers["connection"] = "close"
        return response
