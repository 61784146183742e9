# microhttp.chunked: the chunked transfer coding of request bodies (RFC 9112 section 7.1),
# split from microhttp.h1 because most device clients never send one: a board loads this
# bytecode only when a chunked request arrives.

_SIZE = 2  # chunk-size line (the value h1 sets when a head says "chunked")
_CDATA = 3  # chunk data, p._left bytes to go
_CRLF = 4  # CRLF after chunk data
_TRAIL = 5  # trailer section


def framing(p, te, cl):
    # Parser p's head has Transfer-Encoding te (and Content-Length cl, or None). RFC 9112
    # section 6.1: both framings at once is a smuggling attempt (400); HTTP/1.0 has no chunked
    # coding; chunked must be the only coding, others are 501.
    if cl is not None or p.version == 10:
        raise p._fail(400)
    if te.lower() != "chunked":
        raise p._fail(501)
    p.length = -1
    p.st = _SIZE


def next_chunked(p):
    """Parser.next() for a chunked body: NEED, DATA or END (h1's event values)."""
    b, e = p.buf, p.e
    while True:
        st, s = p.st, p.s
        if st == _CDATA:
            r = p._take(s, e)
            if not p._left:
                p.st = _CRLF
            return r
        if st == _CRLF:
            if e - s < 2:
                return 0
            if b[s] != 13 or b[s + 1] != 10:
                raise p._fail(400)
            p.s += 2
            p.st = _SIZE
            continue
        # One chunk-size line (section 7.1), or trailer lines (section 7.1.2), which are read
        # and discarded within max_trailer bytes.
        i = b.find(b"\n", s, e)
        if (e - s if i < 0 else i - s + 1) > (p.max_chunk_line if st == _SIZE else p._trail):
            raise p._fail(400 if st == _SIZE else 431)
        if i < 0:
            return 0
        if i == s or b[i - 1] != 13 or b.find(b"\r", s, i - 1) >= 0 or b.find(b"\0", s, i) >= 0:
            raise p._fail(400)
        p.s = i + 1
        if st == _TRAIL:
            if i - s == 1:  # the empty line that ends the message
                p.st = 0  # h1's head state: the next request
                return 3  # END
            p._trail -= i - s + 1
            continue
        j = b.find(b";", s, i)  # chunk extensions are ignored (section 7.1.1)
        x = bytes(p.mv[s:(i - 1 if j < 0 else j)]).strip()
        for c in x:
            if c not in b"0123456789abcdefABCDEF":
                x = b""
        if not x or len(x) > 8:
            raise p._fail(400)
        n = int(x, 16)
        p._total += n
        if p._total > p.max_body:
            raise p._fail(413)
        if n:
            p._left = n
            p.st = _CDATA
        else:
            p._trail = p.max_trailer
            p.st = _TRAIL
