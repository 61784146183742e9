"""Static files from flash: chunked reads, MIME types, gzip variants, ETag/304, Range/206/416.

    from microhttp.static import Static
    app.mount(Static("/www", max_age=3600), "/static")     # or, from a route:
    www = Static("/www")
    @app.get("/files/<path:name>")
    async def files(request, name):
        return www.serve(request, name)

Files are never read whole: the response body is a small object with ``readinto`` that the
server drains through its shared per-connection buffer, with ``Content-Length`` set.
"""

import os

from microhttp.errors import HTTPError
from microhttp.response import Response
from microhttp.router import App

# Extension -> media type, one compact string: a dict would take far more heap for as long as
# the module is loaded.
# Each entry is "\n<ext> <type>"; textual types carry their charset (RFC 9110 §8.3.2).
_MIME = (
    "\nhtml text/html; charset=utf-8\nhtm text/html; charset=utf-8"
    "\ncss text/css; charset=utf-8\njs text/javascript; charset=utf-8"
    "\nmjs text/javascript; charset=utf-8\njson application/json"
    "\nsvg image/svg+xml\npng image/png\njpg image/jpeg\njpeg image/jpeg\ngif image/gif"
    "\nico image/x-icon\nwebp image/webp\nwoff2 font/woff2\nwoff font/woff"
    "\ntxt text/plain; charset=utf-8\nwasm application/wasm"
    "\nwebmanifest application/manifest+json\nxml application/xml\npdf application/pdf"
    "\nmp3 audio/mpeg\ncsv text/csv; charset=utf-8\nmap application/json"
    "\nbin application/octet-stream\n"
)
DEFAULT_TYPE = "application/octet-stream"

MAX_PATH = 128  # bytes of the (still encoded) relative path; longer is rejected before decoding
MAX_SEGMENTS = 8

_S_IFDIR = 0x4000


def mime_type(name):
    """Media type for a file name, from its extension (case-insensitive)."""
    dot = name.rfind(".")
    if dot < 0 or dot < name.rfind("/") or len(name) - dot > 12:
        return DEFAULT_TYPE
    extension = name[dot + 1:].lower()
    found = _MIME.find(extension)
    while found > 0:
        after = found + len(extension)
        if _MIME[found - 1] == "\n" and _MIME[after] == " ":  # a whole key, not "js" inside "json"
            return _MIME[after + 1:_MIME.find("\n", after)]
        found = _MIME.find(extension, after)
    return DEFAULT_TYPE


def safe_path(path, max_path=MAX_PATH):
    """Return ``path`` (relative to the static root, already percent-decoded as ``request.path``
    and route parameters are) if it is safe to hand to the filesystem, else None.

    Rejected: over ``max_path`` bytes or ``MAX_SEGMENTS`` segments; NUL and control bytes;
    backslashes and ``:`` (other systems' separators and drive letters); absolute paths (a
    leading ``/``); empty segments (``a//b``); any segment starting with ``.`` (``.``, ``..``,
    hidden files); and any ``%``: the core has decoded the path once, so a ``%`` left means
    double encoding (``%252e``), and decoding twice is how traversals slip through (CWE-174).
    A trailing ``/`` is kept so the caller can add the index file; "" is the root itself.
    """
    encoded = path.encode() if isinstance(path, str) else path
    if len(encoded) > max_path:
        return None
    segments = 0
    start = 0
    end = len(encoded)
    for i in range(end + 1):
        byte = encoded[i] if i < end else 47
        if byte < 32 or byte == 127 or byte == 92 or byte == 58 or byte == 37:  # control, '\\', ':', '%'
            return None
        if byte == 47:  # '/'
            if i == start:
                if i == end and i > 0:
                    break  # trailing slash: a directory
                if end == 0:
                    break  # the root itself
                return None  # empty segment, or an absolute path
            if encoded[start] == 46:  # '.' starts "." / ".." / hidden names
                return None
            segments += 1
            if segments > MAX_SEGMENTS:
                return None
            start = i + 1
    if encoded is path:
        try:
            return encoded.decode()
        except UnicodeError:
            return None
    return path


def parse_range(value, size):
    """Parse a ``Range`` header against a representation of ``size`` bytes (RFC 9110 §14.1.2).

    Returns (start, end) inclusive for one satisfiable range, None to ignore the header (not
    bytes, bad syntax, several ranges: §14.2 lets a server ignore Range and send 200), or -1
    when no range is satisfiable (→ 416, §15.5.17).
    """
    if value is None:
        return None
    value = value.strip()
    if not value.startswith("bytes="):
        return None
    spec = value[6:].strip()
    if "," in spec:
        return None  # multipart/byteranges is not worth the code on a device: send it whole
    dash = spec.find("-")
    if dash < 0:
        return None
    first = spec[:dash].strip()
    last = spec[dash + 1:].strip()
    if not (first.isdigit() if first else True) or not (last.isdigit() if last else True):
        return None
    if not first:
        if not last:
            return None
        suffix = int(last)  # suffix range: the final bytes
        if suffix == 0 or size == 0:
            return -1
        return (max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # syntactically invalid: ignore (§14.1.1)
    if start >= size:
        return -1
    return (start, min(end, size - 1))


def make_etag(size, mtime, tag=""):
    """A strong validator from size and mtime (RFC 9110 §8.8.3); ``tag`` tells variants apart."""
    return '"%x-%x%s"' % (int(mtime), size, tag)


def etag_matches(header, etag, weak=True):
    """True when ``If-None-Match``/``If-Range`` lists ``etag``; weak comparison by default
    (§13.1.2: If-None-Match uses weak comparison; §13.1.5: If-Range needs a strong match)."""
    if header is None:
        return False
    header = header.strip()
    if header == "*":
        return True
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            if not weak:
                continue
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def accepts_gzip(header):
    """True when a request whose ``Accept-Encoding`` value is ``header`` accepts a gzip-coded
    response (RFC 9110 §12.5.3). ``None`` (no such field) accepts any coding; an empty value
    accepts none; ``gzip`` or its alias ``x-gzip`` (§8.4.1.3) is accepted unless its weight is
    ``q=0``, and when neither is listed ``*`` decides the same way."""
    if header is None:
        return True
    if "gzip" not in header and "*" not in header:
        header = header.lower()  # codings are case-insensitive (§8.4.1); lower only if needed
        if "gzip" not in header:
            return False
    star = False
    for item in header.split(","):
        semi = item.find(";")
        name = (item if semi < 0 else item[:semi]).strip().lower()
        if name == "gzip" or name == "x-gzip":
            return semi < 0 or _weight_above_zero(item[semi + 1:])
        if name == "*":
            star = semi < 0 or _weight_above_zero(item[semi + 1:])
    return star


def _weight_above_zero(parameters):
    """False for a weight of zero (``q=0``, ``q=0.000``: "not acceptable", RFC 9110 §12.4.2)
    or one that does not parse; True for any other weight, or none."""
    weight = parameters.strip().replace(" ", "")
    if not weight.startswith("q="):
        return True
    try:
        return float(weight[2:]) > 0
    except ValueError:
        return False


class FileSlice:
    """A readinto-capable body reading ``length`` bytes of an open file from ``start``.

    The server fills its own shared buffer through ``readinto``; nothing is allocated here
    except, for the final short read, one memoryview of the caller's buffer."""

    def __init__(self, file, start, length):
        self.file = file
        self.remaining = length if file is not None else 0
        self.length = length
        if start:
            file.seek(start)

    def readinto(self, buffer):
        if self.remaining <= 0:
            return 0
        if len(buffer) > self.remaining:
            buffer = memoryview(buffer)[:self.remaining]
        count = self.file.readinto(buffer)
        if not count:
            self.remaining = 0
            return 0
        self.remaining -= count
        return count

    def close(self):
        self.remaining = 0
        if self.file is not None:
            self.file.close()


class Static(App):
    """Serves files under ``root`` (GET/HEAD). Mount it, or call ``serve`` from a route.

    ``max_age``: Cache-Control max-age seconds (0 → ``no-cache``, revalidate with the ETag).
    ``index``: file served for a directory path (None: directories are 404).
    ``gzip``: look for ``name.gz`` and serve it with ``Content-Encoding: gzip`` when the client
    accepts gzip: first when its ``Accept-Encoding`` names gzip, and when ``name`` itself is
    missing and the request has no ``Accept-Encoding`` (which accepts any coding). When only
    ``name.gz`` exists and the client refuses gzip, the answer is 406: inflating on the device
    needs a 32 KB window, more heap than the whole server.
    ``tag``: mixed into ETags (e.g. a firmware version) for filesystems without a useful mtime.
    """

    def __init__(self, root, max_age=3600, index="index.html", gzip=True, tag="", **kwargs):
        App.__init__(self, **kwargs)
        self.root = root.rstrip("/")
        self.max_age = max_age
        self.index = index
        self.gzip = gzip
        self.tag = tag
        self.cache_control = ("max-age=%d" % max_age) if max_age > 0 else "no-cache"

        async def _serve(request, path=""):
            return self.serve(request, path)

        self.route("/", methods=("GET",))(_serve)
        self.route("/<path:path>", methods=("GET",))(_serve)

    # The filesystem is touched only through these two methods (tests record them).
    def _stat(self, path):
        try:
            return os.stat(path)
        except OSError:
            return None

    def _open(self, path):
        return open(path, "rb")

    def _stat_gzip_variant(self, full):
        """The stat of ``full + ".gz"`` when it is a file, else None."""
        stat = self._stat(full + ".gz")
        if stat is not None and stat[0] & _S_IFDIR:
            return None
        return stat

    def serve(self, request, path):
        """Build the Response for ``path``: relative to the root, already percent-decoded (as
        ``request.path`` and route parameters are)."""
        if request.method != "GET" and request.method != "HEAD":
            raise HTTPError(405, "Method Not Allowed", {"Allow": "GET, HEAD"})
        relative = safe_path(path)
        if relative is None:
            raise HTTPError(400, "Bad Path")
        if relative == "" or relative.endswith("/"):
            if not self.index:
                raise HTTPError(404, "Not Found")
            relative += self.index
        full = self.root + "/" + relative if relative else self.root
        tag = self.tag
        headers = request.headers
        accept = headers.get("Accept-Encoding")
        gzip_acceptable = self.gzip and accepts_gzip(accept)
        # A client that names gzip gets the smaller variant first. With no Accept-Encoding
        # field every coding is acceptable (RFC 9110 §12.5.3), but identity is the one any
        # client can read, so the gzip variant is then served only when it is the only one.
        gzip_first = gzip_acceptable and accept is not None
        stat = self._stat_gzip_variant(full) if gzip_first else None
        gzipped = stat is not None
        if stat is None:
            stat = self._stat(full)
            if stat is None:
                if self.gzip and not gzip_first:
                    stat = self._stat_gzip_variant(full)
                if stat is None:
                    raise HTTPError(404, "Not Found")
                if not gzip_acceptable:
                    # §15.5.7: the only representation is gzip-coded and the client refused
                    # gzip; the reply varies with Accept-Encoding like the 200 would (§12.5.5).
                    raise HTTPError(406, "only a gzip-coded representation exists and"
                                    " Accept-Encoding refuses gzip", {"Vary": "Accept-Encoding"})
                gzipped = True
            elif stat[0] & _S_IFDIR:
                if not self.index:
                    raise HTTPError(404, "Not Found")
                # Relative links in the index need the trailing slash (RFC 3986 §5.2).
                return Response.redirect(request.path + "/", 301)
        if gzipped:
            full += ".gz"
            tag += "z"  # another representation, another validator (RFC 9110 §8.8.3)
        size = stat[6]
        etag = make_etag(size, stat[8], tag)
        fields = {"ETag": etag, "Cache-Control": self.cache_control, "Accept-Ranges": "bytes"}
        if self.gzip:
            fields["Vary"] = "Accept-Encoding"  # §12.5.5: the choice depends on Accept-Encoding
        if gzipped:
            fields["Content-Encoding"] = "gzip"
        content_type = mime_type(relative)
        # §13.2.2: If-None-Match is evaluated before Range; a match answers 304 without a body.
        if etag_matches(headers.get("If-None-Match"), etag):
            return Response(b"", 304, fields)
        start, length, status = 0, size, 200
        range_field = headers.get("Range")
        if range_field is not None:
            if_range = headers.get("If-Range")
            if if_range is None or etag_matches(if_range, etag, weak=False):
                byte_range = parse_range(range_field, size)
                if byte_range == -1:
                    fields["Content-Range"] = "bytes */%d" % size
                    return Response(b"", 416, fields, content_type="text/plain")
                if byte_range is not None:
                    first, last = byte_range
                    start, length, status = first, last - first + 1, 206
                    fields["Content-Range"] = "bytes %d-%d/%d" % (first, last, size)
        fields["Content-Length"] = str(length)
        if request.method == "HEAD":
            # A body that reads nothing keeps the real Content-Length (§9.3.2) without an open().
            return Response(FileSlice(None, 0, length), status, fields, content_type=content_type)
        try:
            file = self._open(full)
        except OSError:
            raise HTTPError(404, "Not Found")
        return Response(FileSlice(file, start, length), status, fields, content_type=content_type)
