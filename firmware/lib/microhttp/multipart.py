"""Streaming form bodies for microhttp: multipart/form-data (RFC 7578) and
application/x-www-form-urlencoded, parsed incrementally; file parts go straight to flash.

    from microhttp.multipart import receive_form

    @app.post("/upload")
    async def upload(request):
        form = await receive_form(request, files={"asset": "/www/app.js"},
                                  max_file=256 * 1024, max_total=300 * 1024)
        return {"fields": form.fields, "saved": form.files}   # files: name -> [path, size, filename]

``files`` maps a file field to its destination path, or is a function
``(field_name, client_filename) -> path or None`` (None: the part is refused with 400; use
``safe_name()`` before putting a client's file name into a path). Each file is written in
chunks to ``<path>.part`` and renamed over ``<path>`` only once it is complete, so an existing
file survives a failed upload; on any error, size overflow (413) or disconnect the partial file
is removed. Text fields are bounded by ``max_field`` bytes and ``max_fields`` in number. The
body is never held in memory: the parser keeps one buffer of ``buffer_size`` bytes.
"""

import os

from microhttp.errors import HTTPError

NEED = 0
PART = 1  # a part's head was parsed: .name, .filename, .content_type
DATA = 2  # .data is a memoryview of part content (valid until the next feed())
END_PART = 3
END = 4

_PREAMBLE = 0
_AFTER = 1
_HEADERS = 2
_BODY = 3
_DONE = 4


def boundary_of(content_type):
    """The boundary parameter of a multipart Content-Type (RFC 2046 5.1.1), or None."""
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.strip().partition("=")
        if key.strip().lower() == "boundary":
            value = value.strip()
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            if 1 <= len(value) <= 70:  # RFC 2046 5.1.1: 1 to 70 characters
                return value
    return None


def _param(value, name):
    # Content-Disposition parameters (RFC 7578 4.2 / RFC 6266): name="x"; filename="y".
    for item in value.split(";")[1:]:
        key, _, parameter = item.strip().partition("=")
        if key.strip().lower() == name:
            parameter = parameter.strip()
            if len(parameter) >= 2 and parameter[0] == '"' and parameter[-1] == '"':
                parameter = parameter[1:-1].replace('\\"', '"')
            return parameter
    return None


class MultipartParser:
    """Sans-I/O multipart/form-data parser with one fixed buffer.

    Loop: ``taken = parser.feed(data)`` (may take only part of ``data``: feed the rest after
    draining), then ``event = parser.next()`` until NEED. Errors raise HTTPError(400)."""

    def __init__(self, boundary, buffer_size=1024, max_header=1024):
        if isinstance(boundary, str):
            boundary = boundary.encode()
        # A delimiter is CRLF "--" boundary (RFC 2046 5.1.1); the body's first one has no CRLF,
        # so the buffer starts with a virtual CRLF and every delimiter looks the same.
        self._delimiter = b"\r\n--" + boundary
        self.max_header = max_header
        self._buffer = bytearray(max(buffer_size, max_header + 4) + len(self._delimiter))
        self._buffer[0:2] = b"\r\n"
        self._start = 0
        self._end = 2
        self._state = _PREAMBLE
        self.name = self.filename = self.content_type = None
        self.data = None

    def feed(self, data):
        """Copy as much of ``data`` as fits; return how many bytes were taken."""
        buffer = self._buffer
        if self._start:
            unconsumed = self._end - self._start
            buffer[0:unconsumed] = memoryview(buffer)[self._start:self._end]  # compact: unconsumed bytes first
            self._start = 0
            self._end = unconsumed
        take = min(len(data), len(buffer) - self._end)
        buffer[self._end:self._end + take] = data[:take]
        self._end += take
        return take

    def eof(self):
        """Call when the body ended: a body without the closing delimiter is an error."""
        if self._state != _DONE:
            raise HTTPError(400, "multipart body ends early")

    def next(self):
        buffer = self._buffer
        start = self._start
        end = self._end
        delimiter = self._delimiter
        state = self._state
        if state == _PREAMBLE or state == _BODY:
            found = buffer.find(delimiter, start, end)
            if found < 0:
                # Keep what could be the beginning of a delimiter; the rest is settled.
                safe = end - len(delimiter) + 1
                if state == _PREAMBLE or safe <= start:
                    if state == _PREAMBLE and safe > start:
                        self._start = safe
                    return NEED
                self._start = safe
                self.data = memoryview(buffer)[start:safe]
                return DATA
            if state == _BODY and found > start:
                self._start = found
                self.data = memoryview(buffer)[start:found]
                return DATA
            self._start = found + len(delimiter)
            self._state = _AFTER
            return END_PART if state == _BODY else self.next()
        if state == _AFTER:
            if end - start < 2:
                return NEED
            two = bytes(buffer[start:start + 2])
            if two == b"--":
                self._state = _DONE
                self._start = end
                return END
            if two != b"\r\n":
                raise HTTPError(400, "bad multipart delimiter")
            self._start = start + 2
            self._state = _HEADERS
            return self.next()
        if state == _HEADERS:
            if end - start >= 2 and buffer[start] == 13 and buffer[start + 1] == 10:
                head_end = start  # a part without header fields
            else:
                head_end = buffer.find(b"\r\n\r\n", start, end)
                if head_end < 0:
                    if end - start > self.max_header:
                        raise HTTPError(400, "multipart part header too large")
                    return NEED
                head_end += 2
            self._parse_head(bytes(buffer[start:head_end]))
            self._start = head_end + 2
            self._state = _BODY
            return PART
        if state == _DONE:
            self._start = end  # the epilogue is ignored (RFC 2046 5.1.1)
        return NEED

    def _parse_head(self, raw):
        self.name = self.filename = None
        self.content_type = "text/plain"  # RFC 7578 4.4 default
        try:
            text = str(raw, "utf-8")
        except ValueError:
            raise HTTPError(400, "multipart header is not UTF-8")
        for line in text.split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon:
                continue
            name = name.strip().lower()
            if name == "content-disposition":
                if value.strip().split(";")[0].strip().lower() != "form-data":
                    raise HTTPError(400, "part is not form-data")
                self.name = _param(value, "name")
                self.filename = _param(value, "filename")
            elif name == "content-type":
                self.content_type = value.strip()
        if self.name is None:
            raise HTTPError(400, "part without a name")  # RFC 7578 4.2


class Form:
    """The result of ``receive_form``: ``fields`` (name -> str) and ``files``
    (name -> [path, size, client filename])."""

    def __init__(self):
        self.fields = {}
        self.files = {}


def safe_name(filename, max_len=64):
    """A client file name reduced to a safe base name ([A-Za-z0-9._-], no leading dot)."""
    base = filename.replace("\\", "/").split("/")[-1]
    safe = "".join(char if (char.isalpha() or char.isdigit() or char in "._-") and ord(char) < 128 else "_"
                   for char in base)
    safe = safe.lstrip(".")[:max_len]
    if not safe:
        raise HTTPError(400, "bad file name")
    return safe


def _replace(partial, path):
    # os.rename replaces the target on POSIX and LittleFS, but FAT refuses an existing one.
    try:
        os.rename(partial, path)
    except OSError:
        os.remove(path)
        os.rename(partial, path)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


class _Upload:
    def __init__(self, form, name, filename, files, max_file):
        path = files(name, filename) if callable(files) else files.get(name)
        if path is None:
            raise HTTPError(400, "unexpected file field " + name)
        self.path = path
        self.partial = path + ".part"
        self.size = 0
        self.max_file = max_file
        self.file = open(self.partial, "wb")
        form.files[name] = [path, 0, filename]
        self.entry = form.files[name]

    def write(self, data):
        self.size += len(data)
        if self.size > self.max_file:
            raise HTTPError(413, "file too large")
        self.file.write(data)

    def finish(self):
        self.file.close()
        self.file = None
        _replace(self.partial, self.path)
        self.entry[1] = self.size

    def abort(self):
        if self.file is not None:
            self.file.close()
            self.file = None
        _remove(self.partial)


async def receive_form(request, files=None, max_file=64 * 1024, max_total=None, max_fields=16,
                       max_field=1024, buffer_size=1024):
    """Read a multipart/form-data or urlencoded body incrementally into a ``Form``.

    ``max_total``: whole body in bytes (413; default ``max_file`` + 16 KB);
    ``max_file``: bytes per file (413); ``max_fields`` / ``max_field``: number of text fields
    and bytes per field value (413); ``buffer_size``: parser buffer bytes."""
    if max_total is None:
        max_total = max_file + 16 * 1024
    content_type = request.headers.get("Content-Type", "")
    kind = content_type.split(";")[0].strip().lower()
    form = Form()
    if kind == "application/x-www-form-urlencoded":
        pairs = UrlencodedParser(max_field, max_fields)
        async for chunk in request.stream(max_total):
            pairs.feed(chunk, form.fields)
        pairs.finish(form.fields)
        return form
    if kind != "multipart/form-data":
        raise HTTPError(415, "expected a form body")
    boundary = boundary_of(content_type)
    if boundary is None:
        raise HTTPError(400, "multipart body without boundary")
    parser = MultipartParser(boundary, buffer_size)
    upload = None
    field = None  # bytearray of the text field being read
    skip = False  # inside an empty file part
    try:
        async for chunk in request.stream(max_total):
            view = memoryview(chunk)
            offset = 0
            while offset < len(view):
                offset += parser.feed(view[offset:])
                while True:
                    event = parser.next()
                    if event == NEED:
                        break
                    if event == PART:
                        if parser.filename == "":
                            # A file input left empty: browsers send filename="" and no data
                            # (WHATWG HTML 4.10.21.8). Nothing was uploaded: keep the old file.
                            skip = True
                        elif parser.filename is not None:
                            upload = _Upload(form, parser.name, parser.filename, files or {}, max_file)
                        else:
                            if len(form.fields) >= max_fields:
                                raise HTTPError(413, "too many form fields")
                            field = bytearray()
                    elif event == DATA:
                        data = parser.data or b""
                        if skip:
                            if len(data):
                                raise HTTPError(400, "file part without a file name")
                        elif upload is not None:
                            upload.write(data)
                        elif field is not None:
                            if len(field) + len(data) > max_field:
                                raise HTTPError(413, "form field too large")
                            field.extend(data)
                    elif event == END_PART:
                        skip = False
                        if upload is not None:
                            upload.finish()  # complete: now it replaces the old file
                            upload = None
                        elif field is not None:
                            try:
                                form.fields[parser.name] = str(field, "utf-8")
                            except ValueError:
                                raise HTTPError(400, "form field is not UTF-8")
                            field = None
        parser.eof()
    finally:
        if upload is not None:  # error, overflow, disconnect or cancellation mid-file
            upload.abort()
    return form


class UrlencodedParser:
    """Incremental application/x-www-form-urlencoded parser (WHATWG URL 5.1) with bounded
    pair size; ``feed(chunk, fields)`` adds complete pairs to ``fields``."""

    def __init__(self, max_field=1024, max_fields=16):
        self.max_field = max_field
        self.max_fields = max_fields
        self._pair = bytearray()

    def feed(self, chunk, fields):
        start = 0
        while True:
            ampersand = chunk.find(b"&", start)
            piece = chunk[start:] if ampersand < 0 else chunk[start:ampersand]
            if len(self._pair) + len(piece) > self.max_field:
                raise HTTPError(413, "form field too large")
            self._pair.extend(piece)
            if ampersand < 0:
                return
            self._emit(fields)
            start = ampersand + 1

    def finish(self, fields):
        self._emit(fields)

    def _emit(self, fields):
        if not self._pair:
            return
        from microhttp.parse import unquote

        if len(fields) >= self.max_fields:
            raise HTTPError(413, "too many form fields")
        try:
            text = str(self._pair, "utf-8").replace("+", " ")
        except ValueError:
            raise HTTPError(400, "form field is not UTF-8")
        name, _, value = text.partition("=")
        fields[unquote(name)] = unquote(value)
        self._pair = bytearray()
