# microhttp.request: the parsed request; the body is read on demand, bounded by max_body.
#
# Only what every request needs is stored when it arrives; the rest (query, cookies, g, the
# client address, the streams) is made on first use by __getattr__, and the code that makes
# it (microhttp.parse, microhttp.streams) is loaded only then: on a board, loaded bytecode
# and per-request attributes share the heap with requests.
from microhttp.errors import HTTPError


class Request:
    """One request: ``method``, ``path`` (percent-decoded), ``query_string``, ``query``,
    ``headers`` (case-insensitive ``get``), ``cookies``, ``client_addr`` (``(ip, port)``),
    ``app``, ``g`` (a dict for hooks and handlers), ``reader``/``writer`` (the connection's
    streams). The body is read lazily: ``await body()``, ``json()``, ``form()`` or
    ``async for chunk in stream()`` (bytes chunks of at most the connection buffer's size)."""

    def __init__(self, app, conn, p):
        self.app = app
        self.conn = conn
        self.method = p.method
        self.version = p.version
        self.headers = p.headers
        self.target = t = p.target
        p, _, q = t.partition("?")
        if "%" in p:
            from microhttp.parse import unquote

            p = unquote(p)
        self.path = p
        self.query_string = q

    def __getattr__(self, n):
        # Only called for attributes not set yet; made ones are cached as plain attributes.
        if n == "reader":
            return self.conn.r
        if n == "writer":
            return self.conn.w
        if n == "g":
            v = {}
        elif n in ("query", "cookies", "client_addr"):
            from microhttp import parse

            v = parse.attr(self, n)
        else:
            raise AttributeError(n)
        setattr(self, n, v)
        return v

    def stream(self, max_size=None):
        """Iterate the body in bytes chunks; ``max_size`` overrides the app's max_body (413)."""
        from microhttp.streams import BodyIterator

        if max_size is not None:
            self.conn.p.max_body = max_size
        return BodyIterator(self)

    async def _data(self):
        # The next body piece as a view into the connection buffer, or None at the end.
        c = self.conn
        while not c.done:
            ev = c.p.next()
            if ev == 2:  # h1.DATA
                return c.p.data
            if ev == 3:  # h1.END
                c.done = True
            elif not await c.fill(2):
                raise HTTPError(400, "incomplete body")

    async def body(self):
        """The whole body as bytes (413 over max_body, before anything is allocated)."""
        b = getattr(self, "_b", None)
        if b is None:
            p = self.conn.p
            if p.length > p.max_body:
                raise HTTPError(413, "body too large")
            d = await self._data()
            if d is not None and len(d) == p.length:
                # The whole body was already buffered: one copy, no intermediate bytearray.
                b = bytes(d)
                await self._data()
            else:
                b = bytearray(max(p.length, 0))
                i = 0
                while d is not None:
                    if p.length < 0:
                        b.extend(d)  # chunked: bounded by max_body in the parser
                    else:
                        b[i:i + len(d)] = d
                        i += len(d)
                    d = await self._data()
                b = bytes(b)
            self._b = b
        return b

    async def json(self):
        import json

        b = await self.body()
        try:
            return json.loads(b)
        except ValueError:
            raise HTTPError(400, "invalid JSON")

    async def form(self):
        """An application/x-www-form-urlencoded body as a MultiDict."""
        from microhttp.parse import form

        return form(await self.body())
