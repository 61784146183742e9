"""Signed session cookies, password hashes and the failure throttle, in process.

Shared: runs on CPython and the MicroPython unix port.
"""

import time

from microhttp.auth import Throttle, client_key, hash_secret, verify_secret
from microhttp.session import Sessions, _b64url, _unb64url
from support import raises

KEY = b"k" * 32


def test_round_trip_and_expiry():
    s = Sessions(KEY, max_age=60)
    v = s.encode({"user": "admin", "n": 3}, now=1000)
    assert s.decode(v, now=1000) == {"user": "admin", "n": 3}
    assert s.decode(v, now=1059) == {"user": "admin", "n": 3}
    assert s.decode(v, now=1060) is None  # expired at exactly max_age
    for ch in v:  # only cookie-octets (RFC 6265 4.1.1): no quote, comma, semicolon, space
        assert ch not in ' ",;\\'


def test_tampered_or_foreign_cookies_are_ignored():
    s = Sessions(KEY, max_age=60)
    v = s.encode({"user": "admin"}, now=0)
    body, sig = v.rsplit(".", 1)
    forged = _b64url(_unb64url(body).replace(b"admin", b"root!"))
    assert s.decode(forged + "." + sig, now=0) is None
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    assert s.decode(body + "." + flipped, now=0) is None
    assert Sessions(b"another key, 16+").decode(v, now=0) is None
    for junk in ("", ".", "a.b", "no-dot", "x" * 5000, body + ".", "." + sig):
        assert s.decode(junk, now=0) is None
    # A correctly signed payload that is not a dict is still not a session.
    from microhttp.crypto import hmac_sha256

    odd = _b64url(b'{"d": [1], "e": 99}')
    assert s.decode(odd + "." + _b64url(hmac_sha256(KEY, odd.encode())), now=0) is None


def test_short_secret_and_oversize_data_are_refused():
    with raises(ValueError):
        Sessions(b"short")
    with raises(ValueError, "too big"):
        Sessions(KEY).encode({"x": "y" * 4000})


def test_hash_secret_salts_and_verifies():
    a = hash_secret("pw", iterations=10)
    b = hash_secret("pw", iterations=10)
    assert a != b  # random salt
    assert verify_secret("pw", a) and verify_secret(b"pw", b)
    assert not verify_secret("pW", a)
    for bad in ("", "md5$1$x$y", "pbkdf2-sha256$0$AAAA$AAAA", "pbkdf2-sha256$x$AAAA$AAAA", None):
        assert not verify_secret("pw", bad)


def test_throttle_locks_out_and_stays_bounded():
    t = Throttle(max_failures=2, window=60, lockout=60, size=3)
    t.failed("a")
    assert t.retry_after("a") == 0
    t.failed("a")
    assert 0 < t.retry_after("a") <= 60
    t.succeeded("b")
    for addr in ("c", "d", "e", "f"):
        t.failed(addr)
    assert len(t._table) == 3
    assert t.retry_after("a") > 0  # unlocked entries are evicted before locked ones
    t.succeeded("a")
    assert t.retry_after("a") == 0


def test_throttle_lock_expires():
    t = Throttle(max_failures=1, lockout=0.05)
    t.failed("x")
    assert t.retry_after("x") == 1
    time.sleep(0.1)
    assert t.retry_after("x") == 0


def test_client_key_drops_the_port():
    assert client_key(("10.0.0.2", 5555)) == "10.0.0.2"
    raw = bytearray(b"\x02\x00\x15\xb3\x7f\x00\x00\x01" + bytes(8))  # sockaddr_in, port 5555
    assert client_key(raw) == b"\x7f\x00\x00\x01"
    other_port = bytearray(raw)
    other_port[2] = 0x99
    assert client_key(other_port) == client_key(raw)
