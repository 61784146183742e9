# microhttp.request: the parsed request; the body is read on demand, bounded by max_body.
#
# Only what every request needs is stored when it arrives; the rest (query, cookies, g, the
# client address, the streams) is made on first use by __getattr__, and the code that makes
# it (microhttp.parse) is loaded only then: on a board, loaded bytecode
# and per-request attributes share the heap with requests.


class Request:
    """One request: ``method``, ``path`` (percent-decoded), ``query_string``, ``query``,
    ``headers`` (case-insensitive ``get``), ``cookies``, ``client_addr`` (``(ip, port)``),
    ``app``, ``g`` (a dict for hooks and handlers), ``reader``/``writer`` (the connection's
    streams). The body is read lazily: ``await body()``, ``json()``, ``form()`` or
    ``async for chunk in stream()`` (bytes chunks of at most the connection buffer's size)."""

    received = None  # the whole body once read (microhttp.body.read)

    def __init__(self, app, connection, parser):
        self.app = app
        self.connection = connection
        self.method = parser.method
        self.headers = parser.headers
        # Few attributes: each request's instance dict grows (by reallocation) with them.
        path, _, query = parser.target.partition("?")
        if "%" in path:
            from microhttp.parse import unquote

            path = unquote(path)
        self.path = path
        self.query_string = query

    def __getattr__(self, name):
        # Only called for attributes not set yet; made ones are cached as plain attributes.
        if name == "reader":
            return self.connection.reader
        if name == "writer":
            return self.connection.writer
        if name == "g":
            value = {}
        elif name in ("query", "cookies", "client_addr"):
            from microhttp import parse

            value = parse.attr(self, name)
        else:
            raise AttributeError(name)
        setattr(self, name, value)
        return value

    # The body readers are in microhttp.body, loaded when a handler first reads a body (a GET
    # never does). Each method returns the coroutine to await: no extra frame per call.
    # ``max_size`` overrides the app's max_body for this request (413 over it).
    def _limit(self, max_size):
        if max_size is not None:
            self.connection.parser.max_body = max_size

    def stream(self, max_size=None):
        """Iterate the body in bytes chunks."""
        from microhttp.body import BodyIterator

        self._limit(max_size)
        return BodyIterator(self)

    def body(self, max_size=None):
        """``await request.body()``: the whole body as bytes (413 over max_body, checked before
        anything is allocated)."""
        from microhttp.body import read

        self._limit(max_size)
        return read(self)

    def json(self, max_size=None):
        """``await request.json()``: the body parsed as JSON (400 if it is not)."""
        from microhttp.body import read_json

        self._limit(max_size)
        return read_json(self)

    def form(self, max_size=None):
        """``await request.form()``: an application/x-www-form-urlencoded body as a MultiDict."""
        from microhttp.body import read_form

        self._limit(max_size)
        return read_form(self)
