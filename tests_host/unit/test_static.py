"""microhttp.static on both runtimes: path sanitising, MIME map, ETags, ranges, negotiation,
and Static.serve against a filesystem that records every call."""

import io

from microhttp.static import (
    DEFAULT_TYPE,
    FileSlice,
    Static,
    accepts_gzip,
    etag_matches,
    make_etag,
    mime_type,
    parse_range,
    safe_path,
)
from support import FakeRequest, raises

# --- path sanitising -------------------------------------------------------------------------

TRAVERSALS = (
    "..", "../", "../etc/passwd", "a/../../etc/passwd", "a/..", "./a", "a/./b",
    "%2e%2e/etc/passwd", "%2E%2E/secret", "a/%2e%2e/%2e%2e/x", ".%2e/x", "%2e./x",
    "a%2f..%2f..%2fetc", "..%2fetc", "%2fetc/passwd", "%5c..%5cx", "a\\..\\b", "a\\b",
    "/etc/passwd", "//etc/passwd", "/", "/index.html", "a//b", "a\x00.html", "a%00.html", "a%0a.html",
    "C:/windows", "c:x", ".hidden", "a/.git/config", "%", "a%2", "a%zz", "%g0",
    "a/" * 70, "x" * 200, "a/b/c/d/e/f/g/h/i/j",
)


def test_safe_path_rejects_every_traversal_form():
    for path in TRAVERSALS:
        assert safe_path(path) is None, path
        assert safe_path(path.encode()) is None, path


def test_already_decoded_paths_keep_no_percent_sign():
    # request.path arrives decoded; a '%' left over means double encoding (%252e): refuse it.
    assert safe_path("a%252e%252e/x") is None
    assert safe_path("100%.txt") is None
    assert safe_path("a b.txt") == "a b.txt"
    assert safe_path("caf\u00e9/men\u00fc.html") == "caf\u00e9/men\u00fc.html"  # UTF-8 names are fine
    assert safe_path("\u00e9" * 65) is None  # 130 bytes of UTF-8 in 65 characters: too long


def test_safe_path_accepts_plain_paths():
    assert safe_path("index.html") == "index.html"
    assert safe_path("css/site.css") == "css/site.css"
    assert safe_path("img/a b.png") == "img/a b.png"
    assert safe_path("docs/") == "docs/"
    assert safe_path("") == ""
    assert safe_path("a..b.txt") == "a..b.txt"  # dots inside a name are fine
    assert safe_path(b"bytes/ok.js") == "bytes/ok.js"
    assert safe_path("x" * 128) == "x" * 128
    assert safe_path("x" * 129) is None


# --- MIME -----------------------------------------------------------------------------------

def test_mime_map_covers_the_required_types():
    expected = {
        "html": "text/html", "css": "text/css", "js": "text/javascript", "mjs": "text/javascript",
        "json": "application/json", "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg",
        "gif": "image/gif", "ico": "image/x-icon", "webp": "image/webp", "woff2": "font/woff2",
        "txt": "text/plain", "wasm": "application/wasm", "webmanifest": "application/manifest+json",
        "xml": "application/xml", "pdf": "application/pdf", "mp3": "audio/mpeg", "csv": "text/csv",
        "map": "application/json",
    }
    for ext, media in expected.items():
        got = mime_type("dir/file." + ext)
        assert got.split(";")[0] == media, (ext, got)
    assert mime_type("INDEX.HTML") == "text/html; charset=utf-8"
    assert mime_type("a.txt").endswith("charset=utf-8")
    assert mime_type("a.png") == "image/png"


def test_mime_unknown_and_partial_extensions_fall_back():
    for name in ("README", "a.unknownext", "a.htm.bak", "dir.d/file", "a.", "a.js2", "a.s", "a.ml"):
        assert mime_type(name) == DEFAULT_TYPE, name


# --- validators and negotiation ---------------------------------------------------------------

def test_etag_is_quoted_and_changes_with_size_mtime_and_variant():
    tag = make_etag(2048, 1700000000)
    assert tag.startswith('"') and tag.endswith('"')
    assert tag != make_etag(2049, 1700000000)
    assert tag != make_etag(2048, 1700000001)
    assert tag != make_etag(2048, 1700000000, "z")
    assert make_etag(10, 5.9) == make_etag(10, 5)


def test_if_none_match_uses_weak_comparison_and_lists():
    tag = '"a-1"'
    assert etag_matches('"a-1"', tag)
    assert etag_matches('W/"a-1"', tag)
    assert etag_matches('"x", "y" ,W/"a-1"', tag)
    assert etag_matches("*", tag)
    assert not etag_matches('"a-2"', tag)
    assert not etag_matches(None, tag)
    assert not etag_matches('W/"a-1"', tag, weak=False)  # If-Range needs a strong match
    assert etag_matches('"a-1"', tag, weak=False)


def test_accept_encoding_gzip_and_q_zero():
    assert accepts_gzip("gzip")
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert accepts_gzip("GZIP")
    assert accepts_gzip("x-gzip")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("gzip; q=0.0")
    assert not accepts_gzip("br, deflate")
    assert not accepts_gzip("")
    assert not accepts_gzip("gzipper")


def test_no_accept_encoding_field_accepts_gzip_and_an_empty_one_refuses_it():
    # RFC 9110 §12.5.3: no field means any coding is acceptable; an empty value means none.
    assert accepts_gzip(None)
    assert not accepts_gzip("")
    assert not accepts_gzip("identity")


def test_accept_encoding_star_stands_for_gzip_when_gzip_is_not_listed():
    # §12.5.3: "*" matches any coding not listed in the field.
    assert accepts_gzip("*")
    assert accepts_gzip("identity;q=1, *;q=0.5")
    assert not accepts_gzip("identity, *;q=0")
    assert not accepts_gzip("*, gzip;q=0")
    assert accepts_gzip("*;q=0, gzip")


# --- ranges (RFC 9110 §14) -------------------------------------------------------------------

def test_parse_range_satisfiable_forms():
    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=100-", 1000) == (100, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    assert parse_range("bytes=-5000", 1000) == (0, 999)
    assert parse_range("bytes=990-5000", 1000) == (990, 999)
    assert parse_range(" bytes= 5 - 9 ", 1000) == (5, 9)
    assert parse_range("bytes=999-999", 1000) == (999, 999)


def test_parse_range_unsatisfiable_is_minus_one():
    assert parse_range("bytes=1000-", 1000) == -1
    assert parse_range("bytes=1000-2000", 1000) == -1
    assert parse_range("bytes=-0", 1000) == -1
    assert parse_range("bytes=0-", 0) == -1
    assert parse_range("bytes=-10", 0) == -1


def test_parse_range_ignores_what_it_does_not_serve():
    for value in (None, "items=0-1", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "bytes=0-1,5-9",
                  "bytes=1", "bytes=+1-2", "bytes=0x1-2"):
        assert parse_range(value, 1000) is None, value


def test_file_slice_reads_only_its_window_through_the_callers_buffer():
    f = io.BytesIO(bytes(range(256)) * 4)
    body = FileSlice(f, 250, 20)
    assert body.length == 20
    buf = bytearray(8)
    got = bytearray()
    while True:
        n = body.readinto(buf)
        if not n:
            break
        got += buf[:n]
    assert bytes(got) == (bytes(range(256)) * 4)[250:270]
    body.close()
    with raises(ValueError):
        f.read()  # closed with the body


# --- Static.serve against a recording filesystem ----------------------------------------------

FILES = {
    "/www/index.html": b"<h1>home</h1>",
    "/www/app.js": b"console.log(1)//" * 10,
    "/www/app.js.gz": b"\x1f\x8bGZ",
    "/www/only.css.gz": b"\x1f\x8bCSS",
    "/www/docs": None,  # a directory
    "/www/docs/index.html": b"docs",
}


class RecordingStatic(Static):
    def __init__(self, *args, **kwargs):
        Static.__init__(self, *args, **kwargs)
        self.calls = []

    def _stat(self, path):
        self.calls.append(("stat", path))
        if path not in FILES:
            return None
        if FILES[path] is None:
            return (0x4000 | 0o755, 0, 0, 0, 0, 0, 0, 0, 1700000000, 0)
        return (0x8000 | 0o644, 0, 0, 0, 0, 0, len(FILES[path]), 0, 1700000000, 0)

    def _open(self, path):
        self.calls.append(("open", path))
        return io.BytesIO(FILES[path])


def status_of(fn):
    from microhttp import HTTPError

    try:
        resp = fn()
    except HTTPError as exc:
        return getattr(exc, "status", None)
    return resp.status


def drain(resp):
    body = resp.body
    if isinstance(body, (bytes, str)):
        return body
    out = bytearray()
    buf = bytearray(7)
    while True:
        n = body.readinto(buf)
        if not n:
            break
        out += buf[:n]
    body.close()
    return bytes(out)


def test_traversal_attempts_never_reach_the_filesystem():
    st = RecordingStatic("/www")
    for path in TRAVERSALS:
        assert status_of(lambda p=path: st.serve(FakeRequest("/static/" + p), p)) == 400, path
    assert st.calls == []
    st.serve(FakeRequest("/static/index.html"), "index.html")  # the recorder itself works
    assert st.calls and all(c[1].startswith("/www/") for c in st.calls)


def test_serve_plain_file_with_validators_and_length():
    st = RecordingStatic("/www", max_age=60)
    resp = st.serve(FakeRequest("/index.html"), "index.html")
    assert resp.status == 200
    h = resp.headers
    assert h["Content-Length"] == str(len(FILES["/www/index.html"]))
    assert h["Cache-Control"] == "max-age=60"
    assert h["ETag"] == make_etag(len(FILES["/www/index.html"]), 1700000000)
    assert "Content-Encoding" not in h
    assert drain(resp) == FILES["/www/index.html"]


def test_serve_gzip_variant_only_when_accepted():
    st = RecordingStatic("/www")
    resp = st.serve(FakeRequest("/app.js", headers={"accept-encoding": "gzip, br"}), "app.js")
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert drain(resp) == FILES["/www/app.js.gz"]
    plain = st.serve(FakeRequest("/app.js", headers={"Accept-Encoding": "gzip;q=0"}), "app.js")
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    assert plain.headers["ETag"] != resp.headers["ETag"]
    assert drain(plain) == FILES["/www/app.js"]


def test_gzip_only_file_is_406_for_a_client_without_gzip():
    st = RecordingStatic("/www")
    refused = {"Accept-Encoding": "identity"}
    assert status_of(lambda: st.serve(FakeRequest("/only.css", headers=refused), "only.css")) == 406
    resp = st.serve(FakeRequest("/only.css", headers={"Accept-Encoding": "gzip"}), "only.css")
    assert resp.status == 200 and resp.headers["Content-Encoding"] == "gzip"


def test_gzip_only_file_is_served_gzipped_to_a_request_without_accept_encoding():
    # RFC 9110 §12.5.3: no Accept-Encoding field means any content coding is acceptable.
    st = RecordingStatic("/www")
    resp = st.serve(FakeRequest("/only.css"), "only.css")
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["Content-Length"] == str(len(FILES["/www/only.css.gz"]))
    assert drain(resp) == FILES["/www/only.css.gz"]
    head = st.serve(FakeRequest("/only.css", method="HEAD"), "only.css")
    assert head.status == 200 and head.headers["Content-Encoding"] == "gzip"


def test_a_request_without_accept_encoding_gets_the_identity_variant_when_there_is_one():
    st = RecordingStatic("/www")
    resp = st.serve(FakeRequest("/app.js"), "app.js")
    assert "Content-Encoding" not in resp.headers
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert drain(resp) == FILES["/www/app.js"]


def test_406_for_a_gzip_only_file_says_why_and_varies_on_accept_encoding():
    from microhttp import HTTPError

    st = RecordingStatic("/www")
    for refusal in ("identity", "gzip;q=0", "", "br, deflate", "identity, *;q=0"):
        with raises(HTTPError, "Accept-Encoding refuses gzip") as refused:
            st.serve(FakeRequest("/only.css", headers={"Accept-Encoding": refusal}), "only.css")
        assert refused.value.status == 406, refusal
        assert refused.value.headers["Vary"] == "Accept-Encoding", refusal
    assert status_of(lambda: st.serve(FakeRequest("/nope.css"), "nope.css")) == 404


def test_missing_file_is_404_and_directory_redirects_then_serves_index():
    st = RecordingStatic("/www")
    assert status_of(lambda: st.serve(FakeRequest("/nope.txt"), "nope.txt")) == 404
    resp = st.serve(FakeRequest("/static/docs"), "docs")
    assert resp.status == 301
    assert resp.headers["Location"] == "/static/docs/"
    assert drain(st.serve(FakeRequest("/static/docs/"), "docs/")) == b"docs"
    assert drain(st.serve(FakeRequest("/static/"), "")) == FILES["/www/index.html"]


def test_if_none_match_gives_304_without_opening_the_file():
    st = RecordingStatic("/www")
    etag = st.serve(FakeRequest("/index.html"), "index.html").headers["ETag"]
    st.calls[:] = []
    resp = st.serve(FakeRequest("/index.html", headers={"If-None-Match": 'W/' + etag}), "index.html")
    assert resp.status == 304
    assert resp.headers["ETag"] == etag
    assert not any(c[0] == "open" for c in st.calls)


def test_range_206_416_and_if_range():
    st = RecordingStatic("/www")
    data = FILES["/www/app.js"]
    resp = st.serve(FakeRequest("/app.js", headers={"Range": "bytes=10-19"}), "app.js")
    assert resp.status == 206
    assert resp.headers["Content-Range"] == "bytes 10-19/%d" % len(data)
    assert resp.headers["Content-Length"] == "10"
    assert drain(resp) == data[10:20]
    resp = st.serve(FakeRequest("/app.js", headers={"Range": "bytes=-7"}), "app.js")
    assert drain(resp) == data[-7:]
    resp = st.serve(FakeRequest("/app.js", headers={"Range": "bytes=%d-" % len(data)}), "app.js")
    assert resp.status == 416
    assert resp.headers["Content-Range"] == "bytes */%d" % len(data)
    etag = resp.headers["ETag"]
    stale = st.serve(FakeRequest("/app.js", headers={"Range": "bytes=0-1", "If-Range": '"old"'}), "app.js")
    assert stale.status == 200 and drain(stale) == data
    fresh = st.serve(FakeRequest("/app.js", headers={"Range": "bytes=0-1", "If-Range": etag}), "app.js")
    assert fresh.status == 206 and drain(fresh) == data[:2]


def test_head_sends_length_without_opening_and_other_methods_are_405():
    st = RecordingStatic("/www")
    resp = st.serve(FakeRequest("/index.html", method="HEAD"), "index.html")
    assert resp.status == 200
    assert resp.headers["Content-Length"] == str(len(FILES["/www/index.html"]))
    assert drain(resp) == b""
    assert not any(c[0] == "open" for c in st.calls)
    assert status_of(lambda: st.serve(FakeRequest("/index.html", method="POST"), "index.html")) == 405
