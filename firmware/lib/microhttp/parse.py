# microhttp.parse: request parts made on first use (percent-decoding, query string, cookies,
# form bodies, the client address). Loaded by microhttp.request only when a request needs one.
from microhttp.errors import HTTPError


def other_target(target, method):
    # A request-target that is not origin-form (RFC 9112 section 3.2): absolute-form is
    # reduced to its path (section 3.2.2), asterisk-form is kept for OPTIONS (3.2.4);
    # anything else raises ValueError (the parser answers 400).
    if target[:7] == "http://" or target[:8] == "https://":
        return "/" + target.split("/", 3)[3] if target.count("/") > 2 else "/"
    if target != "*" or method != "OPTIONS":
        raise ValueError
    return target


def unquote(text):
    """Percent-decode a str (``+`` is left alone); raises 400 on bad escapes or UTF-8."""
    if "%" not in text:
        return text
    pieces = text.split("%")
    decoded = bytearray(pieces[0].encode())
    try:
        for piece in pieces[1:]:
            decoded.append(int(piece[:2], 16) if len(piece) > 1 else -1)
            decoded.extend(piece[2:].encode())
        return str(decoded, "utf-8")
    except (ValueError, UnicodeError):
        raise HTTPError(400, "bad request")


class MultiDict(dict):
    """A dict of first values; ``getall(key)`` returns every value of a repeated key."""

    def add(self, key, value):
        if key in self:
            if not hasattr(self, "repeated"):
                self.repeated = []
            self.repeated.append((key, value))
        else:
            self[key] = value

    def getall(self, key):
        values = [self[key]] if key in self else []
        for repeated_key, value in getattr(self, "repeated", ()):
            if repeated_key == key:
                values.append(value)
        return values


def parse_qs(query, into=None):
    """Parse ``a=1&b=2`` (``+`` is a space) into a MultiDict."""
    into = MultiDict() if into is None else into
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            into.add(unquote(key.replace("+", " ")), unquote(value.replace("+", " ")))
    return into


def form(body):
    """An application/x-www-form-urlencoded body (bytes) as a MultiDict."""
    try:
        return parse_qs(body.decode())
    except UnicodeError:
        raise HTTPError(400, "invalid form encoding")


def peer(address):
    """The client address as ``(ip, port)``. The unix port hands out the raw sockaddr
    (family, big-endian port, address); lwIP ports and CPython give the tuple already."""
    if isinstance(address, (bytes, bytearray)) and len(address) >= 8 and address[0] == 2:  # AF_INET
        return ("%d.%d.%d.%d" % (address[4], address[5], address[6], address[7]), address[2] << 8 | address[3])
    return address


def attr(request, name):
    """The value of a Request attribute made on first use (see Request.__getattr__)."""
    if name == "query":
        return parse_qs(request.query_string)
    if name == "cookies":
        cookies = {}
        for pair in request.headers.get("cookie", "").split(";"):  # RFC 6265 section 5.4
            key, equals, value = pair.strip().partition("=")
            if equals:
                cookies[key] = value
        return cookies
    return peer(request.connection.writer.get_extra_info("peername"))  # client_addr
