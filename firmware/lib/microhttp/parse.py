# microhttp.parse: request parts made on first use (query string, cookies, form bodies, the
# client address). Loaded by microhttp.request only when a handler asks for one of them.
from microhttp import h1


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
    return peer(req.conn.w.get_extra_info("peername"))  # client_addr
