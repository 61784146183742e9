# microhttp.request: the parsed request; the body is read on demand, bounded by max_body.
from microhttp import h1
from microhttp.errors import HTTPError


class MultiDict(dict):
    """A dict of first values; ``getall(k)`` returns every value of a repeated key."""

    def add(self, k, v):
        if k in self:
            if not hasattr(self, "more"):
                self.more = []
            self.more.append((k, v))
        else:
            self[k] = v

    def getall(self, k):
        r = [self[k]] if k in self else []
        for a, v in getattr(self, "more", ()):
            if a == k:
                r.append(v)
        return r


def parse_qs(s, d=None):
    """Parse ``a=1&b=2`` (``+`` is a space) into a MultiDict."""
    d = MultiDict() if d is None else d
    for x in s.split("&"):
        if x:
            k, _, v = x.partition("=")
            d.add(h1.unquote(k.replace("+", " ")), h1.unquote(v.replace("+", " ")))
    return d


class Request:
    """One request. The body is read lazily: ``await body()``, ``json()``, ``form()`` or
    ``async for chunk in stream()`` (bytes chunks of at most the connection buffer's size)."""

    def __init__(self, app, conn, p):
        self.app = app
        self.conn = conn
        self.reader = conn.r
        self.writer = conn.w
        self.client_addr = conn.addr
        self.method = p.method
        self.version = p.version
        self.headers = p.headers
        self.target = t = p.target
        p, _, q = t.partition("?")
        self.path = h1.unquote(p)
        self.query_string = q
        self.g = {}
        self._q = self._ck = self._b = None

    @property
    def query(self):
        if self._q is None:
            self._q = parse_qs(self.query_string)
        return self._q

    @property
    def cookies(self):
        if self._ck is None:
            self._ck = c = {}
            for x in self.headers.get("cookie", "").split(";"):
                k, e, v = x.strip().partition("=")
                if e:
                    c[k] = v
        return self._ck

    def stream(self, max_size=None):
        """Iterate the body in bytes chunks; ``max_size`` overrides the app's max_body (413)."""
        if max_size is not None:
            self.conn.p.max_body = max_size
        return self

    def __aiter__(self):
        return self

    async def __anext__(self):
        d = await self._data()
        if d is None:
            raise StopAsyncIteration
        return bytes(d)

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
        if self._b is None:
            p = self.conn.p
            if p.length > p.max_body:
                raise HTTPError(413, "body too large")
            d = await self._data()
            if d is not None and len(d) == p.length:
                # The whole body was already buffered: one copy, no intermediate bytearray.
                self._b = bytes(d)
                await self._data()
                return self._b
            b = bytearray(max(p.length, 0))
            i = 0
            while d is not None:
                if p.length < 0:
                    b.extend(d)  # chunked: bounded by max_body in the parser
                else:
                    b[i:i + len(d)] = d
                    i += len(d)
                d = await self._data()
            self._b = bytes(b)
        return self._b

    async def json(self):
        import json

        b = await self.body()
        try:
            return json.loads(b)
        except ValueError:
            raise HTTPError(400, "invalid JSON")

    async def form(self):
        """An application/x-www-form-urlencoded body as a MultiDict."""
        b = await self.body()
        try:
            return parse_qs(b.decode())
        except UnicodeError:
            raise HTTPError(400, "invalid form encoding")
