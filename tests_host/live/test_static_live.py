"""microhttp.static served by a real server on both runtimes, checked with httpx, curl and raw
sockets: gzip variants, 304, 206, 416, HEAD, 406, big files through a small heap, and path
traversal attempts that must not reach the filesystem (the app logs every filesystem call)."""

import gzip
import os
import shutil
import socket
import subprocess
import time

import httpx
import launch
import pytest
from fixtures.http import read_response

CPYTHON_ONLY = True

SECRET = b"TOP-SECRET-CONTENT"
JS = b"console.log('hello from flash');\n" * 40
BIG = bytes((i * 7 + 3) & 0xFF for i in range(200 * 1024))  # far more than a 64 KB heap


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("static")
    (base / "secret.txt").write_bytes(SECRET)  # outside the served root
    root = base / "www"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_bytes(b"<!doctype html><h1>home</h1>")
    (root / "sub" / "index.html").write_bytes(b"<p>sub</p>")
    (root / "app.js").write_bytes(JS)
    (root / "app.js.gz").write_bytes(gzip.compress(JS))
    (root / "only.css.gz").write_bytes(gzip.compress(b"body{color:red}"))
    (root / "big.bin").write_bytes(BIG)
    (root / "data.json").write_bytes(b'{"a": 1}')
    (root / ".env").write_bytes(SECRET)
    return root


@pytest.fixture(scope="module", params=launch.RUNTIMES)
def server(request, site, mpy_microhttp):
    # 96 KB on MicroPython: room for the server, far too little to hold big.bin (200 KB) whole.
    with launch.serve_app(request.param, "static_app.py", [site], heapsize="96k", compiled=mpy_microhttp) as proc:
        proc.runtime = request.param
        yield proc


def fs_calls(proc):
    return [line.split(" ", 2)[2] for line in proc.output.splitlines() if line.startswith("FS ")]


def raw(port, target):
    """Send one request with an exact, un-normalised target; return (status, whole response)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_file_with_type_validators_and_cache_control(server, site):
    r = httpx.get(server.url + "/static/index.html")
    assert r.status_code == 200
    assert r.content == (site / "index.html").read_bytes()
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "max-age=120"
    assert r.headers["etag"].startswith('"')
    assert int(r.headers["content-length"]) == len(r.content)
    assert httpx.get(server.url + "/static/data.json").headers["content-type"] == "application/json"


def test_route_form_and_directory_index(server, site):
    assert httpx.get(server.url + "/files/app.js", headers={"Accept-Encoding": "identity"}).content == JS
    assert httpx.get(server.url + "/static/").content == (site / "index.html").read_bytes()
    r = httpx.get(server.url + "/static/sub")
    assert r.status_code == 301 and r.headers["location"] == "/static/sub/"
    assert httpx.get(server.url + "/static/sub/").content == b"<p>sub</p>"
    assert httpx.get(server.url + "/static/missing.txt").status_code == 404


def test_gzip_variant_and_406(server):
    r = httpx.get(server.url + "/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.content == JS  # httpx inflated it: the stored .gz really was sent
    plain = httpx.get(server.url + "/static/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == JS
    assert plain.headers["etag"] != r.headers["etag"]
    assert httpx.get(server.url + "/static/only.css", headers={"Accept-Encoding": "identity"}).status_code == 406


def get_without_accept_encoding(conn, target):
    """GET with no Accept-Encoding field at all: http.client (and urllib on top of it) adds
    ``Accept-Encoding: identity`` unless told not to, and httpx adds its own codings."""
    conn.putrequest("GET", target, skip_accept_encoding=True)
    conn.endheaders()
    return conn.getresponse()


def test_no_accept_encoding_gets_the_gzip_only_file_and_a_refusal_gets_406(server):
    """RFC 9110 §12.5.3: a request without Accept-Encoding accepts any coding, so a file stored
    only gzipped is served, coded; one whose Accept-Encoding refuses gzip gets a JSON 406."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        r = get_without_accept_encoding(conn, "/static/only.css")
        body = r.read()
        assert r.status == 200, body
        assert r.getheader("Content-Encoding") == "gzip"
        assert r.getheader("Vary") == "Accept-Encoding"
        assert gzip.decompress(body) == b"body{color:red}"
        r = get_without_accept_encoding(conn, "/static/app.js")  # an identity variant exists
        assert r.getheader("Content-Encoding") is None and r.read() == JS
        for refusal in ("identity", "gzip;q=0"):
            conn.request("GET", "/static/only.css", headers={"Accept-Encoding": refusal})
            r = conn.getresponse()
            assert r.status == 406, refusal
            assert r.getheader("Content-Type").startswith("application/json")
            assert r.getheader("Vary") == "Accept-Encoding"
            assert "gzip" in json.loads(r.read())["error"]
    finally:
        conn.close()


def test_curl_without_compressed_gets_the_gzip_only_file(server):
    """curl without --compressed sends no Accept-Encoding and does not inflate: it must get the
    stored gzip bytes, not a 406."""
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    out = subprocess.run(["curl", "-s", "-D", "-", "--max-time", "10", server.url + "/static/only.css"],
                         capture_output=True, timeout=20)
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"\r\ncontent-encoding: gzip" in head.lower()
    assert gzip.decompress(body) == b"body{color:red}"


def test_curl_compressed_and_range(server, tmp_path):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    out = subprocess.run(["curl", "-s", "--compressed", "--max-time", "10", server.url + "/static/app.js"],
                         capture_output=True, timeout=20)
    assert out.stdout == JS
    out = subprocess.run(["curl", "-s", "-r", "1000-1999", "-w", "%{http_code}", "-o", str(tmp_path / "part"),
                          "--max-time", "10", server.url + "/static/big.bin"], capture_output=True, timeout=20)
    assert out.stdout == b"206"
    assert (tmp_path / "part").read_bytes() == BIG[1000:2000]


def test_if_none_match_304(server):
    etag = httpx.get(server.url + "/static/index.html").headers["etag"]
    r = httpx.get(server.url + "/static/index.html", headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag
    assert httpx.get(server.url + "/static/index.html", headers={"If-None-Match": '"other"'}).status_code == 200


def test_ranges_206_and_416(server):
    r = httpx.get(server.url + "/static/big.bin", headers={"Range": "bytes=100-4195"})
    assert r.status_code == 206
    assert r.headers["content-range"] == "bytes 100-4195/%d" % len(BIG)
    assert r.content == BIG[100:4196]
    r = httpx.get(server.url + "/static/big.bin", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == BIG[-10:]
    r = httpx.get(server.url + "/static/big.bin", headers={"Range": "bytes=%d-" % len(BIG)})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */%d" % len(BIG)


def test_big_file_streams_through_a_small_heap(server):
    # On MicroPython the server runs with a 96 KB heap: a 200 KB body must be streamed.
    with httpx.Client() as client:
        for _ in range(3):
            r = client.get(server.url + "/static/big.bin")
            assert r.status_code == 200 and r.content == BIG


def test_head_has_length_and_no_body(server):
    r = httpx.head(server.url + "/static/big.bin")
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(BIG))
    assert r.content == b""


TRAVERSALS = (
    b"/static/../secret.txt", b"/static/%2e%2e/secret.txt", b"/static/%2E%2E/secret.txt",
    b"/static/..%2fsecret.txt", b"/static/%2e%2e%2fsecret.txt", b"/static/sub/../../secret.txt",
    b"/static/..\\secret.txt", b"/static/%5c..%5csecret.txt", b"/static//etc/passwd",
    b"/static/%2fetc%2fpasswd", b"/static/index.html%00.txt", b"/static/.env", b"/static/sub/%2e%2e/.env",
    b"/files/../secret.txt", b"/files/%2e%2e/secret.txt", b"/files/%2e%2e%2f%2e%2e%2fsecret.txt",
    b"/static/" + b"a/" * 100 + b"x", b"/static/" + b"%2e" * 60,
)


def _settled_fs_call_count(server):
    # The server's log reaches the test through a pipe, after its answers: once a marker
    # request's own filesystem call has arrived, so has every call logged before it (earlier
    # tests' requests included).
    opened = len([call for call in fs_calls(server) if call.endswith("index.html")])
    assert raw(server.port, b"/static/index.html")[0] == 200
    for _ in range(500):  # bounded: 10 s
        if len([call for call in fs_calls(server) if call.endswith("index.html")]) > opened:
            break
        time.sleep(0.02)
    return len(fs_calls(server))


def test_traversal_attempts_are_rejected_before_the_filesystem(server, site):
    before = _settled_fs_call_count(server)
    for target in TRAVERSALS:
        status, data = raw(server.port, target)
        assert status in (400, 404), (target, data[:200])
        assert SECRET not in data
    server.wait_for("listening")  # still alive
    leaked = fs_calls(server)[before:]
    assert leaked == [], leaked
    # The log really records calls: a normal request shows up, under the root only.
    assert raw(server.port, b"/static/index.html")[0] == 200
    server.wait_for("FS open .*index.html")
    root = str(site)
    assert all(os.path.normpath(p).startswith(root) for p in fs_calls(server))


def test_strict_framing_on_one_keepalive_connection(server, site):
    """h11 checks every response's framing while 200/HEAD/206/304/416/404 share one connection."""
    import h11

    etag = httpx.get(server.url + "/static/index.html").headers["etag"]
    steps = [
        ("GET", "/static/index.html", [], 200, (site / "index.html").read_bytes()),
        ("HEAD", "/static/big.bin", [], 200, b""),
        ("GET", "/static/big.bin", [("Range", "bytes=5-9")], 206, BIG[5:10]),
        ("GET", "/static/index.html", [("If-None-Match", etag)], 304, b""),
        ("GET", "/static/big.bin", [("Range", "bytes=999999999-")], 416, b""),
        ("GET", "/static/app.js", [("Accept-Encoding", "gzip")], 200, "gzip of JS"),
        ("GET", "/static/nope.txt", [], 404, None),
        ("GET", "/static/big.bin", [], 200, BIG),
    ]
    conn = h11.Connection(h11.CLIENT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        for method, target, headers, status, expected in steps:
            s.sendall(conn.send(h11.Request(method=method, target=target,
                                            headers=[("Host", "127.0.0.1")] + headers)))
            s.sendall(conn.send(h11.EndOfMessage()))
            response, body = read_response(conn, s)
            assert response.status_code == status, (target, response)
            if expected == "gzip of JS":
                assert gzip.decompress(body) == JS
            elif expected is not None:
                assert body == expected, target
            assert conn.our_state is h11.DONE and conn.their_state is h11.DONE
            conn.start_next_cycle()
