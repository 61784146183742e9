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
# The head is checked a line at a time as its lines arrive. Its field lines stay in the buffer
# until it is full or the head ends, and become text then, one string per bufferful, from which
# RequestHeaders cuts a value only when it is asked for. A browser sends a dozen fields and a
# handler reads two or three, so a request pays for those, not for a string and a dict slot
# per field; and no piece is larger than the buffer, which fits the holes of a fragmented
# heap. Every limit is checked before the bytes it guards are copied anywhere: a line over its
# limit (the request line's ``max_line``, the head's ``max_head`` in all) is rejected (414 or
# 431) before the rest of it is read, with nothing allocated for it. Violations raise HTTPError with the
# status to answer; the connection must then be closed (the parser stays in an error state).
# Bodies are framed by Content-Length or the chunked coding (RFC 9112 sections 6 and 7.1). No
# asyncio, no sockets: tests feed bytes. This module owns every parser state and event number.

from micropython import const

from microhttp.errors import HTTPError

FIRST_BUFFER = 512  # a read buffer's first size, in bytes (see Parser.__init__)
NEED = 0
HEAD = 1
DATA = 2
END = 3

# States. Body framing per RFC 9112 section 6.3: Content-Length, chunked, or none (length 0).
_HEAD = const(0)  # the request line
_FIELD = const(1)  # the head's field lines
_BODY = const(2)  # Content-Length body, self._remaining bytes to go
_SIZE = const(3)  # a chunk-size line
_CHUNK = const(4)  # chunk data, self._remaining bytes to go
_CHUNK_END = const(5)  # the CRLF after chunk data
_TRAILER = const(6)  # the trailer section, self._trailer_left bytes allowed
_ERROR = const(7)


# tchar per RFC 9110 section 5.6.2, as a 128-byte table: "1" marks a token character.
_TCHAR = (
    b"00000000000000000000000000000000"
    b"01011111001101101111111111000000"
    b"01111111111111111111111111100011"
    b"11111111111111111111111111101010"
)


class Headers(dict):
    """A dict with case-insensitive keys (stored lowercase)."""

    # name.lower() allocates even when the name is lowercase already: check first.
    def __setitem__(self, name, value):
        super().__setitem__(name if name.islower() else name.lower(), value)

    def __getitem__(self, name):
        return super().__getitem__(name if name.islower() else name.lower())

    def get(self, name, default=None):
        return super().get(name if name.islower() else name.lower(), default)

    def __contains__(self, name):
        return super().get(name if name.islower() else name.lower()) is not None


class RequestHeaders:
    """A request's header fields as received (RFC 9110 section 5), read-only: ``get``,
    ``[]``, ``in``, ``items()``. Names are case-insensitive; the values
    of a repeated field come combined with ", " (section 5.3), without the whitespace around
    them (section 5.5). Each lookup cuts its value out of the head's text anew."""

    def __init__(self, texts):
        # The head's field lines, "name: value\r\n" each with the name lowercase, in one or a
        # few strings (as many as the read buffer was filled with lines).
        self.texts = texts

    def get(self, name, default=None):
        if not name.islower():
            name = name.lower()
        value = None
        for text in self.texts:
            at = 0
            while name:
                at = text.find(name, at)
                if at < 0:
                    break
                end = at + len(name)
                # A field's name starts its line and ends at its colon (field names are
                # tokens: no colon or line break within one).
                if text.startswith(":", end) and (at == 0 or text.startswith("\n", at - 1)):
                    first, last = end + 1, text.find("\r", end)
                    while first < last and (text.startswith(" ", first) or text.startswith("\t", first)):
                        first += 1
                    while last > first and (text.startswith(" ", last - 1) or text.startswith("\t", last - 1)):
                        last -= 1
                    piece = text[first:last]
                    value = piece if value is None else value + ", " + piece
                at = end + 1
        return default if value is None else value

    def __getitem__(self, name):
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name):
        return self.get(name) is not None

    def items(self):
        """(name, value) for each field name, lowercase, in the order the names first came."""
        names = []
        for text in self.texts:
            at = 0
            while at < len(text):
                colon = text.find(":", at)
                name = text[at:colon]
                if name not in names:
                    names.append(name)
                at = text.find("\n", colon) + 1
        return [(name, self.get(name)) for name in names]


_NO_HEADERS = RequestHeaders(())  # a reset parser's headers


def _token(buffer, start, end, lowercase=False):
    # Whether buffer[start:end] is a non-empty token; with ``lowercase``, lowercase it in
    # place (no copy).
    if start >= end:
        return False
    while start < end:
        byte = buffer[start]
        if byte > 126 or _TCHAR[byte] == 48:
            return False
        if lowercase and 64 < byte < 91:
            buffer[start] = byte + 32
        start += 1
    return True


# Bytes a Host value may hold besides token characters (RFC 3986 section 3.2.2: sub-delims,
# the port's colon, an IP literal's brackets), and token characters it may not.
_HOST_ONLY = (40, 41, 44, 58, 59, 61, 91, 93)  # ( ) , : ; = [ ]
_NOT_IN_HOST = (35, 94, 96, 124)  # # ^ ` |


def _host_value(buffer, start, end):
    # Whether buffer[start:end], a Host field's value with its optional whitespace, is
    # uri-host [":" port] (RFC 9112 section 3.2): unreserved characters, percent-encodings,
    # sub-delims, a colon and brackets. Empty is valid (RFC 9110 section 7.2).
    while start < end and buffer[start] in (32, 9):
        start += 1
    while end > start and buffer[end - 1] in (32, 9):
        end -= 1
    while start < end:
        byte = buffer[start]
        if byte > 126 or not ((_TCHAR[byte] == 49 and byte not in _NOT_IN_HOST) or byte in _HOST_ONLY):
            return False
        start += 1
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
        # The buffer needs to hold one head line at a time (and a body passes through it), so
        # 512 B serve nearly every request; a longer line doubles it up to max_head (space();
        # a pooled parser keeps what it grew to, up to what the server allows). Small buffers
        # also fit the holes of a fragmented heap.
        self.buffer = bytearray(min(max_head, FIRST_BUFFER))
        self.view = memoryview(self.buffer)
        self.max_head = max_head
        self.max_line = max_line
        self.max_headers = max_headers
        self.max_body = max_body
        self.max_chunk_line = max_chunk_line
        self.max_trailer = max_trailer
        self.reset()

    def reset(self, largest=None):
        """Forget everything. The buffer is kept, for the next connection, unless it grew
        larger than ``largest`` bytes: then it starts again at its first size."""
        if largest is not None and len(self.buffer) > largest:
            self.buffer = bytearray(min(self.max_head, FIRST_BUFFER))
            self.view = memoryview(self.buffer)
        self.start = self.end = self._scan = 0  # parsed up to, filled up to, where a line's search resumes
        # Body or chunk bytes still to come; trailer bytes still allowed; head (or chunked
        # body) bytes counted so far against their limit.
        self._remaining = self._trailer_left = self._counted = self.length = 0
        # Where the head's field lines not kept as text yet start in the buffer; how many
        # came, how many were Host; the text of those kept (see _keep_fields).
        self._fields = self._field_count = self._hosts = 0
        self._texts = None
        self._blank_skipped = False  # whether an empty line before this request was ignored
        self.state = _HEAD
        # A pooled parser must not keep its last request's strings and dict alive.
        self.data = self.method = self.target = None
        self.headers = _NO_HEADERS

    def buffered(self):
        """Bytes received but not yet parsed; at least 1 while a head is partly parsed."""
        return self.end - self.start + (self.state == _FIELD)

    def space(self):
        """A memoryview to read into. Compacts first; a line that cannot fit raises 414/431."""
        buffer, start, end = self.buffer, self.start, self.end
        if self.state == _FIELD:
            if end < len(buffer):
                return self.view[end:]  # room left: the field lines so far stay where they are
            if start > self._fields:
                self._keep_fields(start)  # full: the complete field lines become text
        if start:
            # Move what is not parsed yet to the front: the line being received, or a few
            # pipelined bytes (often nothing).
            buffer[: end - start] = self.view[start:end]
            self.end = end = end - start
            self._scan = max(0, self._scan - start)
            self.start = self._fields = 0
        if end == len(buffer):
            if end < self.max_head and self.state in (_HEAD, _FIELD):
                # One line longer than the buffer (a long URL or cookie; next() has checked
                # its limit): double it, never past max_head.
                self.buffer = bytearray(min(self.max_head, 2 * end))
                self.buffer[:end] = buffer
                self.view = memoryview(self.buffer)
                return self.view[end:]
            # In body states the buffer cannot be full: chunk lines are bounded well below it.
            raise self._fail(414 if self.state == _HEAD else 431)
        return self.view[end:]

    def _keep_fields(self, end):
        # The head's complete field lines not kept yet, buffer[self._fields:end], as text: a
        # piece of the head that RequestHeaders reads (RFC 9110 section 5.5 allows other
        # octets in values; this server takes UTF-8 only, 400 otherwise).
        try:
            text = str(self.view[self._fields:end], "utf-8")
        except UnicodeError:
            raise self._fail(400)
        if self._texts is None:
            self._texts = [text]
        else:
            self._texts.append(text)
        self._fields = end

    def feed(self, count):
        """Record that ``count`` bytes were written into ``space()``."""
        self.end += count

    def _fail(self, status):
        # The error answer carries the status's reason phrase (RFC 9110 section 15): no
        # message strings here, where every constant takes heap for as long as the module lives.
        self.state = _ERROR
        return HTTPError(status)

    def next(self):
        """Parse what is buffered; return NEED, HEAD, DATA or END."""
        state, buffer, start, end = self.state, self.buffer, self.start, self.end
        if state == _HEAD or state == _FIELD:
            if state == _HEAD:
                # RFC 9112 section 2.2: ignore an empty line received before the request line
                # (one: an old client's CRLF after a POST body). A second one is garbage (400).
                if not self._blank_skipped and end - start > 1 and buffer[start] == 13 and buffer[start + 1] == 10:
                    start += 2
                    self._blank_skipped = True
                self.start = start
                self._counted = 0  # head bytes so far (chunked reuses it for the body's)
                self._field_count = self._hosts = 0
                self._texts = None
            while True:
                if self.state == _HEAD:  # the request line: max_line, within max_head (414)
                    limit, status = min(self.max_line + 2, self.max_head), 414
                else:  # a field line or the empty line: what is left of max_head (431)
                    limit, status = self.max_head - self._counted, 431
                newline = buffer.find(b"\n", max(start, self._scan), end)
                # A line (with its CRLF) over its limit is refused before more of it is read.
                if (end - start if newline < 0 else newline - start) >= limit:
                    raise self._fail(status)
                if newline < 0:
                    if self.state == _HEAD and self._not_a_request_line(start, max(start, self._scan), end):
                        raise self._fail(400)
                    self._scan = end  # resume the search here: never rescan a slow client's line
                    return NEED
                self._counted += newline + 1 - start
                if self._line(start, newline - 1):
                    return HEAD
                start = self.start = newline + 1
        if state == _BODY:
            if not self._remaining:
                self.state = _HEAD
                self._blank_skipped = False
                return END
            if self.length > self.max_body:
                raise self._fail(413)  # before any body byte is read
            return self._take(start, end)
        if state == _ERROR:
            raise HTTPError(400)
        return self._chunked()

    def _chunked(self):
        # next() for a chunked body (RFC 9112 section 7.1): NEED, DATA or END.
        buffer, end = self.buffer, self.end
        while True:
            state, start = self.state, self.start
            if state == _CHUNK:
                event = self._take(start, end)
                if not self._remaining:
                    self.state = _CHUNK_END
                return event
            if state == _CHUNK_END:
                if end - start < 2:
                    return NEED
                if buffer[start] != 13 or buffer[start + 1] != 10:
                    raise self._fail(400)
                self.start += 2
                self.state = _SIZE
                continue
            # One chunk-size line, or a trailer line (section 7.1.2: read and discarded within
            # max_trailer bytes).
            newline = buffer.find(b"\n", start, end)
            length = end - start if newline < 0 else newline - start + 1
            if length > (self.max_chunk_line if state == _SIZE else self._trailer_left):
                raise self._fail(400 if state == _SIZE else 431)
            if newline < 0:
                return NEED
            if (newline == start or buffer[newline - 1] != 13 or buffer.find(b"\r", start, newline - 1) >= 0
                    or buffer.find(b"\0", start, newline) >= 0):
                raise self._fail(400)
            self.start = newline + 1
            if state == _TRAILER:
                if length == 2:  # the empty line that ends the message
                    self.state = _HEAD
                    self._blank_skipped = False
                    return END
                self._trailer_left -= length
                continue
            semicolon = buffer.find(b";", start, newline)  # extensions are ignored (section 7.1.1)
            size = bytes(self.view[start:(newline - 1 if semicolon < 0 else semicolon)]).strip()
            for digit in size:
                if digit not in b"0123456789abcdefABCDEF":
                    size = b""
            if not size or len(size) > 8:
                raise self._fail(400)
            chunk_size = int(size, 16)
            self._counted += chunk_size
            if self._counted > self.max_body:
                raise self._fail(413)
            if chunk_size:
                self._remaining = chunk_size
                self.state = _CHUNK
            else:
                self._trailer_left = self.max_trailer
                self.state = _TRAILER

    def _take(self, start, end):
        # DATA: up to self._remaining buffered body bytes, as a view into the buffer.
        count = min(self._remaining, end - start)
        if not count:
            return NEED
        self.data = self.view[start:start + count]
        self.start += count
        self._remaining -= count
        return DATA

    def _not_a_request_line(self, start, new, end):
        # Whether the start of a request line received so far, buffer[start:end] (its bytes
        # from ``new`` not seen before), can no longer become one: garbage (a TLS handshake,
        # a stray protocol) is refused at the offending byte, as h11 does, not after the head
        # timeout. RFC 9112 section 3: the method is a token, and a request line holds no
        # control bytes.
        buffer = self.buffer
        if end == start or (end - start == 1 and buffer[start] == 13):
            return False  # nothing yet, or perhaps an empty line's CR (section 2.2) before its LF
        space = buffer.find(b" ", start, end)
        if not _token(buffer, start, end if space < 0 else space):
            return True
        for index in range(new, end):
            byte = buffer[index]
            if byte == 127 or (byte < 32 and not (byte == 13 and index == end - 1)):
                return True
        return False

    def _line(self, start, cr):
        # One complete head line, buffer[start:cr] (cr: the CR of its CRLF): the request line,
        # a field line or the empty line that ends the head (then True). Index arithmetic on
        # the buffer throughout: the only allocations are the strings kept (method, target,
        # and the field lines as text, see _keep_fields).
        buffer, view = self.buffer, self.view
        # RFC 9112 section 2.2: a bare CR, a bare LF or a NUL in the head is rejected (400).
        if cr < start or buffer[cr] != 13 or buffer.find(b"\r", start, cr) >= 0 or buffer.find(b"\0", start, cr) >= 0:
            raise self._fail(400)
        try:
            if self.state == _HEAD:
                # RFC 9112 section 3: request-line = method SP request-target SP HTTP-version
                first = buffer.find(b" ", start, cr)
                last = buffer.rfind(b" ", start, cr)
                if first < 0 or buffer.find(b" ", first + 1, last) >= 0 or last - first < 2 or not _token(buffer, start, first):
                    raise ValueError
                # Section 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT; only 1.x is served (505).
                if cr - last != 9 or buffer.find(b"HTTP/", last, cr) != last + 1 or buffer[last + 7] != 46 or not (
                        47 < buffer[last + 6] < 58 and 47 < buffer[last + 8] < 58):
                    raise ValueError
                if buffer[last + 6] != 49:
                    raise self._fail(505)
                self.version = 10 if buffer[last + 8] == 48 else 11
                self.method = method = str(view[start:first], "utf-8")
                target = str(view[first + 1:last], "utf-8")
                if target[0] != "/":
                    # Section 3.2.2: absolute-form must be accepted; asterisk-form only for
                    # OPTIONS (rare: microhttp.parse decides, ValueError for anything else).
                    from microhttp.parse import other_target

                    target = other_target(target, method)
                self.target = target
                self.state = _FIELD
                self._fields = cr + 2
                return False
            if cr > start:
                # A field line: checked, its name lowercased in place, kept in the buffer.
                colon = buffer.find(b":", start, cr)
                # Section 5.1: no whitespace before the colon; section 5.2: obs-fold is a 400.
                if colon < 0 or not _token(buffer, start, colon, True):
                    raise ValueError
                if self._field_count >= self.max_headers:
                    raise self._fail(431)
                self._field_count += 1
                if colon - start == 4 and buffer.find(b"host", start, colon) == start:
                    self._hosts += 1
                    # RFC 9112 section 3.2: exactly one Host, with a valid value.
                    if self._hosts > 1 or not _host_value(buffer, colon + 1, cr):
                        raise ValueError
                return False
            # The empty line: the head is complete.
            if start > self._fields:
                self._keep_fields(start)
            self.headers = headers = RequestHeaders(self._texts or ())
            self._texts = None
        except (ValueError, UnicodeError):
            raise self._fail(400)
        if self.version == 11 and not self._hosts:
            raise self._fail(400)  # RFC 9112 section 3.2
        connection = headers.get("connection", "").lower()
        self.keep_alive = "close" not in connection if self.version == 11 else "keep-alive" in connection
        transfer_encoding = headers.get("transfer-encoding")
        content_length = headers.get("content-length")
        self._counted = 0
        self.state = _BODY
        self.start = start + 2
        if transfer_encoding is not None:
            # Section 6.1: both framings at once is a smuggling attempt (400); HTTP/1.0 has no
            # chunked coding; chunked must be the only coding, others are 501.
            if content_length is not None or self.version == 10:
                raise self._fail(400)
            if transfer_encoding.lower() != "chunked":
                raise self._fail(501)
            self.length = -1
            self.state = _SIZE
        elif content_length is not None:
            # Section 6.3: anything but one decimal value (repeats included) is a 400.
            if not content_length.isdigit() or len(content_length) > 9:
                raise self._fail(400)
            self.length = self._remaining = int(content_length)
        else:
            self.length = self._remaining = 0
        return True
