# microhttp.h1: a sans-I/O HTTP/1.1 request parser.
#
# Theory of operation. A Parser owns one bytearray, the connection's read buffer: 512 B,
# doubled (up to ``max_head``) only for a line longer than that. The caller fills it
# (``space()`` gives a memoryview to ``readinto``, ``feed(n)`` says how many bytes arrived)
# and calls ``next()``, which returns one event:
#   NEED  more bytes are needed (call space()/feed() again)
#   HEAD  a request head was parsed: .method .target .version .headers .keep_alive .length
#   DATA  .data is a memoryview of body bytes, valid until the next call
#   END   the request body is complete; the next call starts the next (pipelined) request
# The head is parsed a line at a time as its lines arrive. Every limit is checked before the
# bytes it guards are copied anywhere: a line over its limit (the request line's ``max_line``,
# the head's ``max_head`` in all) is rejected (414 or 431) before the rest of it is read,
# with nothing allocated for it. Violations raise HTTPError with the status to answer; the
# connection must then be closed (the parser stays in an error state). Bodies are framed by
# Content-Length or the chunked coding (RFC 9112 sections 6 and 7.1). No asyncio, no
# sockets: tests feed bytes. This module owns every parser state and event number.

from micropython import const

from microhttp.errors import HTTPError

NEED = 0
HEAD = 1
DATA = 2
END = 3

# States. Body framing per RFC 9112 section 6.3: Content-Length, chunked, or none (length 0).
_HEAD = const(0)  # the request line
_FIELD = const(1)  # the head's field lines
_BODY = const(2)  # Content-Length body, self._left bytes to go
_SIZE = const(3)  # a chunk-size line
_CHUNK = const(4)  # chunk data, self._left bytes to go
_CHUNK_END = const(5)  # the CRLF after chunk data
_TRAILER = const(6)  # the trailer section, self._trailer_left bytes allowed
_ERROR = const(7)

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
        at 512 B (or max_head if smaller) and doubles up to max_head only for a longer line
    :param max_line: bytes for the request line (414 over it)
    :param max_headers: header field count (431 over it)
    :param max_body: body bytes (413 over it); may be changed per request before the body
    :param max_chunk_line: bytes of a chunk-size line with extensions (400 over it)
    :param max_trailer: bytes of a chunked trailer section (431 over it)
    """

    def __init__(self, max_head=2048, max_line=1024, max_headers=32, max_body=16384,
                 max_chunk_line=128, max_trailer=1024):
        # The buffer holds one head line at a time (and a body passes through it), so 512 B
        # serve nearly every request; a longer line doubles it up to max_head (space(); a
        # pooled parser keeps what it grew to). Small buffers also fit the holes of a
        # fragmented heap.
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
        self.start = self.end = self._scan = 0  # parsed up to, filled up to, where a line's search resumes
        self._left = self._trailer_left = self._total = self.length = 0
        self.state = _HEAD
        # A pooled parser must not keep its last request's strings and dict alive.
        self.data = self.method = self.target = None
        self.headers = _NO_HEADERS

    def buffered(self):
        """Bytes received but not yet parsed; at least 1 while a head is partly parsed."""
        return self.end - self.start + (self.state == _FIELD)

    def space(self):
        """A memoryview to read into. Compacts first; a line that cannot fit raises 414/431."""
        b, s, e = self.buf, self.start, self.end
        if s:
            # Move the unparsed tail to the front: the line being received, or a few
            # pipelined bytes (often nothing).
            b[: e - s] = self.mv[s:e]
            self.end = e = e - s
            self._scan = max(0, self._scan - s)
            self.start = 0
        if e == len(b):
            if e < self.max_head and self.state in (_HEAD, _FIELD):
                # One line longer than the buffer (a long URL or cookie; next() has checked
                # its limit): double it (512 B, 1 KB, 2 KB), never past max_head.
                self.buf = bytearray(min(self.max_head, 2 * e))
                self.buf[:e] = b
                self.mv = memoryview(self.buf)
                return self.mv[e:]
            # In body states the buffer cannot be full: chunk lines are bounded well below it.
            raise self._fail(414 if self.state == _HEAD else 431)
        return self.mv[e:]

    def feed(self, n):
        """Record that ``n`` bytes were written into ``space()``."""
        self.end += n

    def _fail(self, status):
        # The error answer carries the status's reason phrase (RFC 9110 section 15): no
        # message strings here, where every constant takes heap for as long as the module lives.
        self.state = _ERROR
        return HTTPError(status)

    def next(self):
        """Parse what is buffered; return NEED, HEAD, DATA or END."""
        st, b, s, e = self.state, self.buf, self.start, self.end
        if st == _HEAD or st == _FIELD:
            if st == _HEAD:
                # RFC 9112 section 2.2: ignore empty lines received before the request line.
                while e - s > 1 and b[s] == 13 and b[s + 1] == 10:
                    s += 2
                self.start = s
                self._total = 0  # head bytes so far (chunked reuses it for the body's)
            # Line by line: 512 B serve a phone browser's 600-900 B head (its longest line is a
            # few hundred bytes), so a pooled buffer rarely has to grow in a fragmented heap.
            while True:
                if self.state == _HEAD:  # the request line: max_line, within max_head (414)
                    lim, err = min(self.max_line + 2, self.max_head), 414
                else:  # a field line or the empty line: what is left of max_head (431)
                    lim, err = self.max_head - self._total, 431
                i = b.find(b"\n", max(s, self._scan), e)
                # A line (with its CRLF) over its limit is refused before more of it is read.
                if (e - s if i < 0 else i - s) >= lim:
                    raise self._fail(err)
                if i < 0:
                    self._scan = e  # resume the search here: never rescan a slow client's line
                    return NEED
                self._total += i + 1 - s
                if self._line(s, i - 1):
                    return HEAD
                s = self.start = i + 1
        if st == _BODY:
            if not self._left:
                self.state = _HEAD
                return END
            if self.length > self.max_body:
                raise self._fail(413)  # before any body byte is read
            return self._take(s, e)
        if st == _ERROR:
            raise HTTPError(400)
        return self._chunked()

    def _chunked(self):
        # next() for a chunked body (RFC 9112 section 7.1): NEED, DATA or END.
        b, e = self.buf, self.end
        while True:
            st, s = self.state, self.start
            if st == _CHUNK:
                event = self._take(s, e)
                if not self._left:
                    self.state = _CHUNK_END
                return event
            if st == _CHUNK_END:
                if e - s < 2:
                    return NEED
                if b[s] != 13 or b[s + 1] != 10:
                    raise self._fail(400)
                self.start += 2
                self.state = _SIZE
                continue
            # One chunk-size line, or a trailer line (section 7.1.2: read and discarded within
            # max_trailer bytes).
            i = b.find(b"\n", s, e)
            if (e - s if i < 0 else i - s + 1) > (self.max_chunk_line if st == _SIZE else self._trailer_left):
                raise self._fail(400 if st == _SIZE else 431)
            if i < 0:
                return NEED
            if i == s or b[i - 1] != 13 or b.find(b"\r", s, i - 1) >= 0 or b.find(b"\0", s, i) >= 0:
                raise self._fail(400)
            self.start = i + 1
            if st == _TRAILER:
                if i - s == 1:  # the empty line that ends the message
                    self.state = _HEAD
                    return END
                self._trailer_left -= i - s + 1
                continue
            j = b.find(b";", s, i)  # chunk extensions are ignored (section 7.1.1)
            size = bytes(self.mv[s:(i - 1 if j < 0 else j)]).strip()
            for c in size:
                if c not in b"0123456789abcdefABCDEF":
                    size = b""
            if not size or len(size) > 8:
                raise self._fail(400)
            n = int(size, 16)
            self._total += n
            if self._total > self.max_body:
                raise self._fail(413)
            if n:
                self._left = n
                self.state = _CHUNK
            else:
                self._trailer_left = self.max_trailer
                self.state = _TRAILER

    def _take(self, s, e):
        # DATA: up to self._left buffered body bytes, as a view into the buffer.
        n = min(self._left, e - s)
        if not n:
            return NEED
        self.data = self.mv[s:s + n]
        self.start += n
        self._left -= n
        return DATA

    def _line(self, s, c):
        # One complete head line, b[s:c] (c: the CR of its CRLF): the request line, a field
        # line or the empty line that ends the head (then True). Index arithmetic on the
        # buffer throughout: the only allocations are the strings kept (method, target, field
        # names and values) and the headers dict.
        b, mv = self.buf, self.mv
        # RFC 9112 section 2.2: a bare CR, a bare LF or a NUL in the head is rejected (400).
        if c < s or b[c] != 13 or b.find(b"\r", s, c) >= 0 or b.find(b"\0", s, c) >= 0:
            raise self._fail(400)
        try:
            if self.state == _HEAD:
                # RFC 9112 section 3: request-line = method SP request-target SP HTTP-version
                a = b.find(b" ", s, c)
                v = b.rfind(b" ", s, c)
                if a < 0 or b.find(b" ", a + 1, v) >= 0 or v - a < 2 or not _token(b, s, a):
                    raise ValueError
                # Section 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT; only 1.x is served (505).
                if c - v != 9 or b.find(b"HTTP/", v, c) != v + 1 or b[v + 7] != 46 or not (
                        47 < b[v + 6] < 58 and 47 < b[v + 8] < 58):
                    raise ValueError
                if b[v + 6] != 49:
                    raise self._fail(505)
                self.version = 10 if b[v + 8] == 48 else 11
                self.method = m = str(mv[s:a], "utf-8")
                t = str(mv[a + 1:v], "utf-8")
                if t[0] != "/":
                    # Section 3.2.2: absolute-form must be accepted; asterisk-form only for
                    # OPTIONS (rare: microhttp.parse decides, ValueError for anything else).
                    from microhttp.parse import target

                    t = target(t, m)
                self.target = t
                self.headers = Headers()
                self.state = _FIELD
                return False
            h = self.headers
            if c > s:
                j = b.find(b":", s, c)
                # Section 5.1: no whitespace before the colon; section 5.2: obs-fold is a 400.
                if j < 0 or not _token(b, s, j, True):
                    raise ValueError
                if len(h) >= self.max_headers:
                    raise self._fail(431)
                k = str(mv[s:j], "utf-8")
                j += 1
                while j < c and b[j] in b" \t":  # optional whitespace around the value
                    j += 1
                while c > j and b[c - 1] in b" \t":
                    c -= 1
                x = str(mv[j:c], "utf-8")
                o = h.get(k)
                if o is not None:
                    if k == "host":
                        raise ValueError  # RFC 9112 section 3.2: exactly one Host
                    x = o + ", " + x  # RFC 9110 section 5.3: combine repeated fields
                h[k] = x
                return False
        except (ValueError, UnicodeError):
            raise self._fail(400)
        # The empty line: the head is complete.
        if self.version == 11 and "host" not in h:
            raise self._fail(400)  # RFC 9112 section 3.2
        c = h.get("connection", "").lower()
        self.keep_alive = "close" not in c if self.version == 11 else "keep-alive" in c
        te = h.get("transfer-encoding")
        cl = h.get("content-length")
        self._total = 0
        self.state = _BODY
        self.start = s + 2
        if te is not None:
            # Section 6.1: both framings at once is a smuggling attempt (400); HTTP/1.0 has no
            # chunked coding; chunked must be the only coding, others are 501.
            if cl is not None or self.version == 10:
                raise self._fail(400)
            if te.lower() != "chunked":
                raise self._fail(501)
            self.length = -1
            self.state = _SIZE
        elif cl is not None:
            # Section 6.3: anything but one decimal value (repeats included) is a 400.
            if not cl.isdigit() or len(cl) > 9:
                raise self._fail(400)
            self.length = self._left = int(cl)
        else:
            self.length = self._left = 0
        return True
