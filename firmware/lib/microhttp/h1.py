# microhttp.h1: a sans-I/O HTTP/1.1 request parser.
#
# Theory of operation. A Parser owns one bytearray of ``max_head`` bytes: the connection's
# read buffer. The caller fills it (``space()`` gives a memoryview to ``readinto``, ``feed(n)``
# says how many bytes arrived) and calls ``next()``, which returns one event:
#   NEED  more bytes are needed (call space()/feed() again)
#   HEAD  a request head was parsed: .method .target .version .headers .keep_alive .length
#   DATA  .data is a memoryview of body bytes, valid until the next call
#   END   the request body is complete; the next call starts the next (pipelined) request
# Every limit is checked before the bytes it guards are copied anywhere: the head can never
# outgrow the buffer, so a head that does not fit is rejected (414 or 431) with nothing else
# allocated. Violations raise HTTPError with the status to answer; the connection must then
# be closed (the parser stays in an error state). No asyncio, no sockets: tests feed bytes.
# The code is terse on purpose: on a board, bytecode is loaded into the same RAM as requests.

from micropython import const

from microhttp.errors import HTTPError

NEED = 0
HEAD = 1
DATA = 2
END = 3

# States. Body framing per RFC 9112 section 6.3: Content-Length, chunked, or none (length 0).
# The chunked states (2..5) are microhttp.chunked's.
_HEAD = const(0)
_BODY = const(1)  # Content-Length body, self._left bytes to go
_SIZE = const(2)  # chunk-size line
_ERR = const(6)

_NO_HEADERS = {}  # type: dict  # (never mutated) a reset parser's headers

# tchar per RFC 9110 section 5.6.2, as a 128-byte table: "1" marks a token character.
_TCHAR = (
    b"00000000000000000000000000000000"
    b"01011111001101101111111111000000"
    b"01111111111111111111111111100011"
    b"11111111111111111111111111101010"
)


class Headers(dict):
    """A dict with case-insensitive keys (stored lowercase)."""

    # k.lower() allocates even when k is lowercase already: check first (no allocation).
    def __setitem__(self, k, v):
        super().__setitem__(k if k.islower() else k.lower(), v)

    def __getitem__(self, k):
        return super().__getitem__(k if k.islower() else k.lower())

    def get(self, k, d=None):
        return super().get(k if k.islower() else k.lower(), d)

    def __contains__(self, k):
        return super().get(k if k.islower() else k.lower()) is not None


def _token(b, i, j, low=False):
    # Whether b[i:j] is a non-empty token; with ``low``, lowercase it in place (no copy).
    if i >= j:
        return False
    while i < j:
        c = b[i]
        if c > 126 or _TCHAR[c] == 48:
            return False
        if low and 64 < c < 91:
            b[i] = c + 32
        i += 1
    return True


class Parser:
    """Incremental HTTP/1.1 request parser over one preallocated buffer.

    :param max_head: bytes for the request line plus headers (431 over it); the buffer starts
        at 512 B (or max_head if smaller) and doubles up to max_head only as a head needs it
    :param max_line: bytes for the request line (414 over it)
    :param max_headers: header field count (431 over it)
    :param max_body: body bytes (413 over it); may be changed per request before the body
    :param max_chunk_line: bytes of a chunk-size line with extensions (400 over it)
    :param max_trailer: bytes of a chunked trailer section (431 over it)
    """

    def __init__(self, max_head=2048, max_line=1024, max_headers=32, max_body=16384,
                 max_chunk_line=128, max_trailer=1024):
        # Most heads from devices and scripts are a few hundred bytes: start with 512 B and
        # double up to max_head only as a head needs it (space(); a pooled parser keeps what it
        # grew to; the limit still holds before allocating). Small buffers also fit the holes
        # of a fragmented heap.
        self.buf = bytearray(min(max_head, 512))
        self.mv = memoryview(self.buf)
        self.max_head = max_head
        self.max_line = max_line
        self.max_headers = max_headers
        self.max_body = max_body
        self.max_chunk_line = max_chunk_line
        self.max_trailer = max_trailer
        self.reset()

    def reset(self):
        """Forget everything (the buffer is kept, for the next connection)."""
        self.s = self.e = self._k = 0  # consumed offset, filled offset, head scan offset
        self._left = self._trail = self._total = self.length = 0
        self.st = _HEAD
        # A pooled parser must not keep its last request's strings and dict alive.
        self.data = self.method = self.target = None
        self.headers = _NO_HEADERS

    def buffered(self):
        """Bytes received but not yet parsed."""
        return self.e - self.s

    def space(self):
        """A memoryview to read into. Compacts first; a head that cannot fit raises 414/431."""
        b, s, e = self.buf, self.s, self.e
        if s:
            # Move the unparsed tail to the front (usually a few pipelined bytes, often none).
            b[: e - s] = self.mv[s:e]
            self.e = e = e - s
            self._k = max(0, self._k - s)
            self.s = 0
        if e == len(b):
            if e < self.max_head and self.st == _HEAD:
                # Double (512 B, 1 KB, 2 KB): a phone browser's head is often 600-900 B, and
                # after hours of use a heap with 14 KB free may have no 2 KB hole left.
                self.buf = bytearray(min(self.max_head, 2 * e))
                self.buf[:e] = b
                self.mv = memoryview(self.buf)
                return self.mv[e:]
            # RFC 9112 section 3: a request line over our limit is 414, else 431. In body
            # states the buffer cannot be full: chunk lines are bounded well below its size.
            raise self._fail(414 if b.find(b"\n", 0, e) < 0 else 431)
        return self.mv[e:]

    def feed(self, n):
        """Record that ``n`` bytes were written into ``space()``."""
        self.e += n

    def _fail(self, status):
        # The error answer carries the status's reason phrase (RFC 9110 section 15): no
        # message strings here, where every constant takes heap for as long as the module lives.
        self.st = _ERR
        return HTTPError(status)

    def next(self):
        """Parse what is buffered; return NEED, HEAD, DATA or END."""
        st, b, s, e = self.st, self.buf, self.s, self.e
        if st == _HEAD:
            # RFC 9112 section 2.2: ignore empty lines received before the request line.
            while e - s > 1 and b[s] == 13 and b[s + 1] == 10:
                s += 2
            self.s = s
            h = b.find(b"\r\n\r\n", max(s, self._k), e)
            if h < 0:
                self._k = e - 3  # resume the search here: never rescan a slow client's head
                if e - s > self.max_line + 1 and b.find(b"\n", s, s + self.max_line + 2) < 0:
                    raise self._fail(414)
                return NEED
            self._head(s, h + 2)
            self.s = h + 4
            return HEAD
        if st == _BODY:
            if not self._left:
                self.st = _HEAD
                return END
            if self.length > self.max_body:
                raise self._fail(413)  # before any body byte is read
            return self._take(s, e)
        if st == _ERR:
            raise HTTPError(400)
        # Chunked bodies are rare on a device: their decoder is loaded on first use.
        from microhttp.chunked import next_chunked

        return next_chunked(self)

    def _take(self, s, e):
        # DATA: up to self._left buffered body bytes, as a view into the buffer.
        n = min(self._left, e - s)
        if not n:
            return NEED
        self.data = self.mv[s:s + n]
        self.s += n
        self._left -= n
        return DATA

    def _head(self, s, end):
        # Index arithmetic on the buffer throughout: the only allocations are the strings
        # kept (method, target, field names and values) and the headers dict.
        b, mv = self.buf, self.mv
        # RFC 9112 section 2.2: a bare CR, a bare LF or a NUL in the head is rejected (400).
        n = b.count(b"\r\n", s, end)
        if b.find(b"\0", s, end) >= 0 or b.count(b"\r", s, end) != n or b.count(b"\n", s, end) != n:
            raise self._fail(400)
        i = b.find(b"\r\n", s, end)
        if i - s > self.max_line:
            raise self._fail(414)
        # RFC 9112 section 3: request-line = method SP request-target SP HTTP-version
        a = b.find(b" ", s, i)
        v = b.rfind(b" ", s, i)
        if a < 0 or b.find(b" ", a + 1, v) >= 0 or v - a < 2 or not _token(b, s, a):
            raise self._fail(400)
        # Section 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT; only 1.x is served (505).
        if i - v != 9 or b.find(b"HTTP/", v, i) != v + 1 or b[v + 7] != 46 or not (
                47 < b[v + 6] < 58 and 47 < b[v + 8] < 58):
            raise self._fail(400)
        if b[v + 6] != 49:
            raise self._fail(505)
        self.version = 10 if b[v + 8] == 48 else 11
        try:
            self.method = m = str(mv[s:a], "utf-8")
            t = str(mv[a + 1:v], "utf-8")
            if t[0] != "/":
                # Section 3.2.2: absolute-form must be accepted; asterisk-form only for OPTIONS
                # (rare: microhttp.parse decides, ValueError for anything else).
                from microhttp.parse import target

                t = target(t, m)
            self.target = t
            h = Headers()
            i += 2
            while i < end:
                j = b.find(b"\r\n", i, end)
                c = b.find(b":", i, j)
                # Section 5.1: no whitespace before the colon; section 5.2: obs-fold is a 400.
                if c < 0 or not _token(b, i, c, True):
                    raise ValueError
                if len(h) >= self.max_headers:
                    raise self._fail(431)
                k = str(mv[i:c], "utf-8")
                c += 1
                while c < j and b[c] in b" \t":  # optional whitespace around the value
                    c += 1
                while j > c and b[j - 1] in b" \t":
                    j -= 1
                x = str(mv[c:j], "utf-8")
                o = h.get(k)
                if o is not None:
                    if k == "host":
                        raise ValueError  # RFC 9112 section 3.2: exactly one Host
                    x = o + ", " + x  # RFC 9110 section 5.3: combine repeated fields
                h[k] = x
                i = b.find(b"\r\n", j, end) + 2
        except (ValueError, UnicodeError):
            raise self._fail(400)
        if self.version == 11 and "host" not in h:
            raise self._fail(400)  # RFC 9112 section 3.2
        self.headers = h
        c = h.get("connection", "").lower()
        self.keep_alive = "close" not in c if self.version == 11 else "keep-alive" in c
        te = h.get("transfer-encoding")
        cl = h.get("content-length")
        self._total = 0
        self.st = _BODY
        if te is not None:
            # A request with Transfer-Encoding: its checks are microhttp.chunked's.
            from microhttp.chunked import framing

            framing(self, te, cl)
        elif cl is not None:
            # Section 6.3: anything but one decimal value (repeats included) is a 400.
            if not cl.isdigit() or len(cl) > 9:
                raise self._fail(400)
            self.length = self._left = int(cl)
        else:
            self.length = self._left = 0
