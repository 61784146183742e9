# microhttp.parse: request parts made on first use (percent-decoding, query string, cookies,
# form bodies, the client address). Loaded by microhttp.request only when a request needs one.
from microhttp.errors import HTTPError


def target(t, m):
    # A request-target that is not origin-form (RFC 9112 section 3.2): absolute-form is
    # reduced to its path (section 3.2.2), asterisk-form is kept for OPTIONS (3.2.4);
    # anything else raises ValueError (the parser answers 400).
    if t[:7] == "http://" or t[:8] == "https://":
        return "/" + t.split("/", 3)[3] if t.count("/") > 2 else "/"
    if t != "*" or m != "OPTIONS":
        raise ValueError
    return t


def unquote(s):
    """Percent-decode a str (``+`` is left alone); raises 400 on bad escapes or UTF-8."""
    if "%" not in s:
        return s
    p = s.split("%")
    b = bytearray(p[0].encode())
    try:
        for x in p[1:]:
            b.append(int(x[:2], 16) if len(x) > 1 else -1)
            b.extend(x[2:].encode())
        return str(b, "utf-8")
    except (ValueError, UnicodeError):
        raise HTTPError(400, "bad request")


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
            d.add(unquote(k.replace("+", " ")), unquote(v.replace("+", " ")))
    return d


def form(b):
    """An application/x-www-form-urlencoded body (bytes) as a MultiDict."""
    try:
        return parse_qs(b.decode())
    except UnicodeError:
        raise HTTPError(400, "invalid form encoding")


def peer(a):
    """The client address as ``(ip, port)``. The unix port hands out the raw sockaddr
    (family, big-endian port, address); lwIP ports and CPython give the tuple already."""
    if isinstance(a, (bytes, bytearray)) and len(a) >= 8 and a[0] == 2:  # AF_INET
        return ("%d.%d.%d.%d" % (a[4], a[5], a[6], a[7]), a[2] << 8 | a[3])
    return a


def attr(req, n):
    """The value of a Request attribute made on first use (see Request.__getattr__)."""
    if n == "query":
        return parse_qs(req.query_string)
    if n == "cookies":
        c = {}
        for x in req.headers.get("cookie", "").split(";"):  # RFC 6265 section 5.4
            k, e, v = x.strip().partition("=")
            if e:
                c[k] = v
        return c
    return peer(req.conn.writer.get_extra_info("peername"))  # client_addr
