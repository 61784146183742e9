"""The firmware's page (``www/index.html.gz``, stored gzip-only) to clients that send no
Accept-Encoding (curl without --compressed, http.client told not to add one) and to clients
that refuse gzip, on the virtual board (boards/virtual.json), both app runtimes.

RFC 9110 §12.5.3: no Accept-Encoding field means any content coding is acceptable, so the page
is served gzip-coded; an Accept-Encoding that refuses gzip gets 406 with a JSON reason."""

import gzip
import http.client
import json
import shutil
import subprocess

import launch
import pytest

CPYTHON_ONLY = True


def get_without_accept_encoding(port, target):
    """(status, headers, body) of a GET that carries no Accept-Encoding field: http.client (and
    urllib on top of it) would add ``Accept-Encoding: identity`` unless told not to."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r, r.read()
    finally:
        conn.close()


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_the_page_without_accept_encoding_is_served_gzipped_and_a_refusal_is_406(device_factory, runtime):
    dev = device_factory(runtime)
    status, r, body = get_without_accept_encoding(dev.http_port, "/")
    assert status == 200, body[:200]
    assert r.getheader("Content-Encoding") == "gzip"
    assert r.getheader("Vary") == "Accept-Encoding"
    assert r.getheader("Content-Type").startswith("text/html")
    assert gzip.decompress(body).lstrip().lower().startswith(b"<!doctype html")

    if shutil.which("curl"):  # curl without --compressed sends no Accept-Encoding either
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                              "--max-time", "10", dev.url + "/"], capture_output=True, timeout=20)
        assert out.stdout.split() == [b"200", str(len(body)).encode()], out

    for refusal in ("identity", "gzip;q=0"):
        r = dev.get("/", headers={"Accept-Encoding": refusal})
        assert r.status_code == 406, refusal
        assert r.headers["vary"] == "Accept-Encoding"
        reason = r.json()["error"]
        assert "gzip" in reason and "Accept-Encoding" in reason, reason
    assert json.loads(dev.get("/api/board").content)["board"]["id"] == "virtual"  # still serving
