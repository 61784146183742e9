"""Auth, sessions, CORS and CSRF over real sockets on both runtimes (httpx client)."""

import base64
import time

import httpx
import launch
import pytest

CPYTHON_ONLY = True
WAIT = 10
TOKEN = "tok_3f9a0c6e1b7d4a2f8e5c"


@pytest.fixture(scope="module", params=launch.RUNTIMES)
def server(request):
    with launch.serve_app(request.param, "ext_sec_app.py", heapsize="512k") as proc:
        yield proc


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def get(server, path, **kw):
    return httpx.get(server.url + path, timeout=WAIT, **kw)


def test_basic_auth_per_route(server):
    assert get(server, "/public").text == "public"
    r = get(server, "/basic")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="device", charset="UTF-8"'
    assert get(server, "/basic", headers={"Authorization": basic("admin", "correct horse")}).text == "hello admin"
    for bad in (basic("admin", "wrong"), basic("nobody", "correct horse"), "Basic !!!", "Basic " +
                base64.b64encode(b"no-colon").decode(), "Bearer " + TOKEN):
        r = get(server, "/basic", headers={"Authorization": bad})
        assert r.status_code == 401, bad
    # The same good credentials again (served from the verified cache) still work.
    assert get(server, "/basic", headers={"Authorization": basic("admin", "correct horse")}).status_code == 200


def test_bearer_auth(server):
    r = get(server, "/token")
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="api"'
    r = get(server, "/token", headers={"Authorization": "Bearer wrong-token"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'  # RFC 6750 3.1
    assert get(server, "/token", headers={"Authorization": "Bearer " + TOKEN}).text == "token for phone"


def test_global_auth_on_a_mounted_app_with_exempt_path(server):
    assert get(server, "/admin/open").text == "open"
    assert get(server, "/admin/panel").status_code == 401
    ok = get(server, "/admin/panel", headers={"Authorization": basic("admin", "correct horse")})
    assert ok.text == "panel for admin"


def test_repeated_failures_lock_the_address_out_then_expire(server):
    good = {"Authorization": basic("admin", "correct horse")}
    assert get(server, "/locked", headers=good).text == "unlocked"
    for _ in range(3):
        assert get(server, "/locked", headers={"Authorization": basic("admin", "guess")}).status_code == 401
    r = get(server, "/locked", headers=good)  # even the right password is refused now
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    deadline = time.monotonic() + WAIT  # lockout is 1 s
    while get(server, "/locked", headers=good).status_code == 429:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert get(server, "/locked", headers=good).text == "unlocked"


def test_session_login_cookie_attributes_tamper_and_logout(server):
    with httpx.Client(base_url=server.url, timeout=WAIT) as c:
        assert c.get("/me").status_code == 401
        assert c.post("/login", data={"user": "admin", "password": "nope"}).status_code == 403
        r = c.post("/login", data={"user": "admin", "password": "correct horse"})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        attrs = [a.strip().lower() for a in cookie.split(";")]
        assert "httponly" in attrs and "samesite=lax" in attrs and "secure" in attrs and "max-age=600" in attrs
        value = cookie.split(";")[0].split("=", 1)[1]
    hdr = {"Cookie": "session=" + value}
    assert get(server, "/me", headers=hdr).json() == {"user": "admin"}
    # Tampering: change the payload (claim another user) but keep the signature.
    body, sig = value.rsplit(".", 1)
    forged_payload = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).replace(b"admin", b"eve__")).decode().rstrip("=")
    for bad in (forged_payload + "." + sig, body + "." + sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB"),
                body, "garbage", ""):
        assert get(server, "/me", headers={"Cookie": "session=" + bad}).status_code == 401, bad
    r = httpx.post(server.url + "/logout", headers=hdr, timeout=WAIT)
    assert "max-age=0" in r.headers["set-cookie"].lower()


def test_csrf_blocks_cross_site_writes_only(server):
    post = lambda path, h: httpx.post(server.url + path, headers=h, timeout=WAIT).status_code  # noqa: E731
    assert post("/change", {}) == 200  # no browser headers: curl, scripts
    assert post("/change", {"Sec-Fetch-Site": "same-origin"}) == 200
    assert post("/change", {"Sec-Fetch-Site": "none"}) == 200
    assert post("/change", {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}) == 403
    assert post("/change", {"Sec-Fetch-Site": "same-site", "Origin": "http://sub.127.0.0.1"}) == 403
    host = server.url.split("//")[1]
    assert post("/change", {"Origin": "http://" + host}) == 200  # older browser, same origin
    assert post("/change", {"Origin": "http://evil.example"}) == 403
    assert post("/change", {"Origin": "null"}) == 403
    assert post("/hook", {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}) == 200  # exempt
    assert post("/change", {"Sec-Fetch-Site": "cross-site", "Origin": "http://good.example"}) == 200  # trusted
    assert get(server, "/public", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200  # safe method


def test_cors_preflight_and_actual_requests(server):
    pre = {"Origin": "http://good.example", "Access-Control-Request-Method": "PUT",
           "Access-Control-Request-Headers": "content-type, x-token"}
    r = httpx.options(server.url + "/api/items", headers=pre, timeout=WAIT)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "http://good.example"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "PUT" in r.headers["access-control-allow-methods"]
    assert "x-token" in r.headers["access-control-allow-headers"].lower()
    assert r.headers["access-control-max-age"] == "300"
    assert "origin" in r.headers["vary"].lower()
    for bad in ({"Origin": "http://evil.example"}, {"Access-Control-Request-Method": "DELETE"},
                {"Access-Control-Request-Headers": "x-other"}):
        h = dict(pre)
        h.update(bad)
        r = httpx.options(server.url + "/api/items", headers=h, timeout=WAIT)
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers, bad
    r = get(server, "/api/items", headers={"Origin": "http://good.example"})
    assert r.json() == {"items": [1, 2]}
    assert r.headers["access-control-allow-origin"] == "http://good.example"
    assert r.headers["access-control-expose-headers"] == "X-Count"
    assert "origin" in r.headers["vary"].lower()
    r = get(server, "/api/items", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers and "origin" in r.headers["vary"].lower()
    r = httpx.put(server.url + "/api/items", headers={"Origin": "http://good.example"}, timeout=WAIT)
    assert r.text == "put" and r.headers["access-control-allow-origin"] == "http://good.example"
