# microhttp.h1: a sans-I/O HTTP/1.1 request parser and response-head serializer.
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
# be closed (the parser is left in an error state). No asyncio, no sockets: tests feed bytes.

from microhttp.errors import HTTPError

NEED = 0
HEAD = 1
DATA = 2
END = 3

# States. Body framing per RFC 9112 section 6.3: Content-Length, chunked, or none (length 0).
_HEAD = 0
_BODY = 1  # Content-Length body, self._left bytes to go
_SIZE = 2  # chunk-size line
_CDATA = 3  # chunk data, self._left bytes to go
_CRLF = 4  # CRLF after chunk data
_TRAIL = 5  # trailer section
_ERR = 6

# tchar per RFC 9110 section 5.6.2, as a 128-byte table: "1" marks a token character.
_TCHAR = (
    b"00000000000000000000000000000000"
    b"01011111001101101111111111000000"
    b"01111111111111111111111111100011"
    b"11111111111111111111111111101010"
)


class Headers(dict):
    """A dict with case-insensitive keys (stored lowercase)."""

    def __setitem__(self, k, v):
        super().__setitem__(k.lower(), v)

    def __getitem__(self, k):
        return super().__getitem__(k.lower())

    def get(self, k, d=None):
        return super().get(k.lower(), d)

    def __contains__(self, k):
        return super().get(k.lower()) is not None

    def pop(self, k, d=None):
        return super().pop(k.lower(), d)


def _token(b):
    if not b:
        return False
    for c in b:
        if c > 126 or _TCHAR[c] == 48:
            return False
    return True


def _bad(msg):
    return HTTPError(400, msg)


def unquote(s):
    """Percent-decode a str (``+`` is left alone); raises 400 on bad escapes or UTF-8."""
    if "%" not in s:
        return s
    p = s.split("%")
    b = bytearray(p[0].encode())
    try:
        for x in p[1:]:
            if len(x) < 2:
                raise ValueError
            b.append(int(x[:2], 16))
            b.extend(x[2:].encode())
        return str(b, "utf-8")
    except (ValueError, UnicodeError):
        raise _bad("bad percent-encoding")


class Parser:
    """Incremental HTTP/1.1 request parser over one preallocated buffer.

    :param max_head: bytes for the request line plus headers (431 over it); also the buffer size
    :param max_line: bytes for the request line (414 over it)
    :param max_headers: header field count (431 over it)
    :param max_body: body bytes (413 over it); may be changed per request before the body
    :param max_chunk_line: bytes of a chunk-size line with extensions (400 over it)
    :param max_trailer: bytes of a chunked trailer section (431 over it)
    """

    def __init__(self, max_head=2048, max_line=1024, max_headers=32, max_body=16384,
                 max_chunk_line=128, max_trailer=1024):
        self.buf = bytearray(max_head)
        self.mv = memoryview(self.buf)
        self.max_line = max_line
        self.max_headers = max_headers
        self.max_body = max_body
        self.max_chunk_line = max_chunk_line
        self.max_trailer = max_trailer
        self.s = self.e = self._k = 0  # consumed offset, filled offset, head scan offset
        self.st = _HEAD
        self.data = None

    def reset(self):
        """Forget everything (the buffer is kept, for the next connection)."""
        self.s = self.e = self._k = 0
        self.st = _HEAD
        self.data = None

    def buffered(self):
        """Bytes received but not yet parsed."""
        return self.e - self.s

    def space(self):
        """A memoryview to read into. Compacts first; a head that cannot fit raises 414/431."""
        b, s, e = self.buf, self.s, self.e
        if s:
            # Move the unparsed tail to the front (usually a few pipelined bytes, often none).
            if e > s:
                b[: e - s] = self.mv[s:e]
            self.e = e = e - s
            self._k = max(0, self._k - s)
            self.s = 0
        if e == len(b):
            if self.st == _HEAD:
                # RFC 9112 section 3: a request line over our limit is 414, else 431.
                raise self._fail(414 if b.find(b"\n", 0, e) < 0 else 431, "request head too large")
            raise self._fail(400, "chunk framing too large")
        return self.mv[e:]

    def feed(self, n):
        """Record that ``n`` bytes were written into ``space()``."""
        self.e += n

    def feed_bytes(self, data):
        """Copy in as much of ``data`` as fits (for callers without readinto); return the rest.
        Parse what was fed with next() before feeding the rest."""
        m = self.space()
        n = min(len(m), len(data))
        m[:n] = data[:n]
        self.e += n
        return data[n:]

    def _fail(self, status, msg):
        self.st = _ERR
        return HTTPError(status, msg)

    def _find_head(self):
        b, s, e = self.buf, self.s, self.e
        # RFC 9112 section 2.2: ignore empty lines received before the request line.
        while e - s >= 2 and b[s] == 13 and b[s + 1] == 10:
            s += 2
        self.s = s
        if self._k < s:
            self._k = s
        h = b.find(b"\r\n\r\n", self._k, e)
        if h < 0:
            self._k = max(s, e - 3)  # resume the search here: never rescan a slow client's head
            if b.find(b"\n", s, min(e, s + self.max_line + 2)) < 0 and e - s > self.max_line + 1:
                raise self._fail(414, "request line too long")
        return h

    def next(self):
        """Parse what is buffered; return NEED, HEAD, DATA or END."""
        st = self.st
        if st == _HEAD:
            if self.e == self.s:
                return NEED
            h = self._find_head()
            if h < 0:
                return NEED
            self._head(self.s, h + 2)
            self.s = self._k = h + 4
            return HEAD
        if st == _BODY or st == _CDATA:
            if not self._left:  # only a Content-Length body gets here with nothing left
                self.st = _HEAD
                return END
            if self.length > self.max_body:
                raise self._fail(413, "body too large")  # checked before any body byte is read
            n = min(self._left, self.e - self.s)
            if not n:
                return NEED
            self.data = self.mv[self.s:self.s + n]
            self.s += n
            self._left -= n
            if not self._left and st == _CDATA:
                self.st = _CRLF
            return DATA
        if st == _CRLF:
            if self.e - self.s < 2:
                return NEED
            if self.buf[self.s] != 13 or self.buf[self.s + 1] != 10:
                raise self._fail(400, "bad chunk framing")
            self.s += 2
            self.st = _SIZE
            return self.next()
        if st == _SIZE or st == _TRAIL:
            return self._line(st)
        raise HTTPError(400, "parser in error state")

    def _line(self, st):
        # One chunk-size line (RFC 9112 section 7.1), or trailer lines (section 7.1.2), which
        # are read and discarded within max_trailer bytes.
        b = self.buf
        while True:
            s, e = self.s, self.e
            lim = self.max_chunk_line if st == _SIZE else self.max_trailer - self._trail
            i = b.find(b"\n", s, e)
            if (e - s if i < 0 else i - s + 1) > lim:
                raise self._fail(431 if st == _TRAIL else 400, "chunk line too long")
            if i < 0:
                return NEED
            if i == s or b[i - 1] != 13 or b.find(b"\r", s, i - 1) >= 0 or b.find(b"\0", s, i) >= 0:
                raise self._fail(400, "bad chunk framing")
            self.s = i + 1
            if st == _TRAIL:
                if i - s == 1:  # the empty line that ends the message
                    self.st = _HEAD
                    return END
                self._trail += i - s + 1
                continue
            j = b.find(b";", s, i - 1)  # chunk extensions are ignored (section 7.1.1)
            x = bytes(self.mv[s:(i - 1 if j < 0 else j)]).strip()
            if not x or len(x) > 8:
                raise self._fail(400, "bad chunk size")
            for c in x:
                if not (48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102):
                    raise self._fail(400, "bad chunk size")
            n = int(x, 16)
            if self._total + n > self.max_body:
                raise self._fail(413, "body too large")
            self._total += n
            if n:
                self._left = n
                self.st = _CDATA
                return self.next()
            self._trail = 0
            self.st = st = _TRAIL

    def _head(self, s, end):
        b = self.buf
        # RFC 9112 section 2.2: a bare CR, NUL or a bare LF in the head is rejected (400).
        if (b.find(b"\0", s, end) >= 0 or b.count(b"\r", s, end) != b.count(b"\n", s, end)
                or b.count(b"\r\n", s, end) != b.count(b"\n", s, end)):
            raise self._fail(400, "bad line ending or NUL")
        i = b.find(b"\r\n", s, end)
        if i - s > self.max_line:
            raise self._fail(414, "request line too long")
        # RFC 9112 section 3: request-line = method SP request-target SP HTTP-version
        rl = bytes(self.mv[s:i]).split(b" ")
        if len(rl) != 3 or not _token(rl[0]) or not rl[1]:
            raise self._fail(400, "bad request line")
        v = rl[2]
        if v[:5] != b"HTTP/" or len(v) != 8 or v[6] != 46 or not (48 <= v[5] <= 57 and 48 <= v[7] <= 57):
            raise self._fail(400, "bad HTTP version")
        if v[5] != 49:
            raise self._fail(505, "HTTP version not supported")  # section 2.3: only 1.x
        self.version = 10 if v[7] == 48 else 11
        try:
            self.method = rl[0].decode()
            t = rl[1].decode()
        except UnicodeError:
            raise self._fail(400, "bad request target")
        if t[0] != "/":
            # Section 3.2.2: absolute-form must be accepted; asterisk-form only for OPTIONS.
            if t.startswith("http://") or t.startswith("https://"):
                t = "/" + t.split("/", 3)[3] if t.count("/") > 2 else "/"
            elif t != "*" or self.method != "OPTIONS":
                raise self._fail(400, "bad request target")
        self.target = t
        h = Headers()
        i += 2
        while i < end:
            j = b.find(b"\r\n", i, end)
            c = b.find(b":", i, j)
            # Section 5.1: no whitespace before the colon; section 5.2: obs-fold is rejected.
            if c < 0 or not _token(self.mv[i:c]):
                raise self._fail(400, "bad header field")
            if len(h) >= self.max_headers:
                raise self._fail(431, "too many header fields")
            try:
                k = bytes(self.mv[i:c]).decode().lower()
                val = bytes(self.mv[c + 1:j]).strip(b" \t").decode()
            except UnicodeError:
                raise self._fail(400, "bad header encoding")
            o = h.get(k)
            if o is not None:
                if k == "host":
                    raise self._fail(400, "duplicate Host")  # RFC 9112 section 3.2
                val = o + ", " + val  # RFC 9110 section 5.3: combine repeated fields
            h[k] = val
            i = j + 2
        if self.version == 11 and "host" not in h:
            raise self._fail(400, "missing Host")  # RFC 9112 section 3.2
        self.headers = h
        c = h.get("connection", "").lower()
        self.keep_alive = "close" not in c if self.version == 11 else "keep-alive" in c
        te = h.get("transfer-encoding")
        cl = h.get("content-length")
        self._total = 0
        if te is not None:
            # Section 6.1: with both, the message is a smuggling attempt: reject it (400).
            if cl is not None:
                raise self._fail(400, "both Content-Length and Transfer-Encoding")
            if self.version == 10:
                raise self._fail(400, "Transfer-Encoding in HTTP/1.0")
            # Section 6.1: chunked must be the only coding we accept; others are 501.
            if te.strip().lower() != "chunked":
                raise self._fail(501, "unsupported transfer coding")
            self.length = -1
            self.st = _SIZE
        else:
            n = 0
            if cl is not None:
                # Section 6.3: a list of identical values is one value; anything else is 400.
                n = -1
                for x in cl.split(","):
                    x = x.strip()
                    if not x.isdigit() or len(x) > 9 or (n >= 0 and int(x) != n):
                        raise self._fail(400, "bad Content-Length")
                    n = int(x)
            self.length = self._left = n
            self.st = _BODY
