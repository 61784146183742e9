"""Passwords and tokens for microhttp: the parts of a password check, for microhttp.auth's
Basic and Bearer guards and for an app that checks passwords its own way.

    stored = hash_secret("s3cret")            # "pbkdf2-sha256$1000$<salt>$<key>": store this
    verify_secret("s3cret", stored)           # True, comparing in constant time
    token = make_token()                      # random, URL-safe (RFC 6750 b64token)
    basic_credentials("YWRtaW46czNjcmV0")     # ("admin", "s3cret") (RFC 7617 section 2)
    throttle = Throttle(max_failures=5, window=60, lockout=60)
    throttle.retry_after(client_key(request.client_addr))   # seconds to wait, or 0

Passwords are PBKDF2-HMAC-SHA256 (RFC 8018) with a random 16-byte salt.
"""

import binascii
import os
import time

from microhttp.crypto import equal, pbkdf2_sha256

# PBKDF2 rounds (RFC 8018 section 5.2): each guess costs an attacker as much as the board's own
# check. Raise it on faster boards.
DEFAULT_ITERATIONS = 1000
_SCHEME = "pbkdf2-sha256"  # the first field of a stored hash


def _b64(b):
    return binascii.b2a_base64(b).strip().decode()


def hash_secret(secret, iterations=DEFAULT_ITERATIONS, salt=None):
    """A storable salted hash of ``secret`` (str or bytes)."""
    if isinstance(secret, str):
        secret = secret.encode()
    salt = salt or os.urandom(16)
    key = pbkdf2_sha256(secret, salt, iterations)
    return "%s$%d$%s$%s" % (_SCHEME, iterations, _b64(salt), _b64(key))


def is_secret_hash(value):
    """Whether ``value`` is a ``hash_secret`` string (as opposed to a secret typed in plain)."""
    return value.startswith(_SCHEME + "$")


def verify_secret(secret, stored):
    """True when ``secret`` matches a ``hash_secret`` string; the key compare is constant-time."""
    try:
        scheme, iterations, salt, key = stored.split("$")
        iterations = int(iterations)
        salt = binascii.a2b_base64(salt)
        key = binascii.a2b_base64(key)
    except (ValueError, AttributeError):
        return False
    if scheme != _SCHEME or not 0 < iterations <= 1000000:
        return False
    if isinstance(secret, str):
        secret = secret.encode()
    return equal(pbkdf2_sha256(secret, salt, iterations, len(key)), key)


def make_token(nbytes=24):
    """A random URL-safe token (RFC 6750 section 2.1 b64token characters)."""
    return _b64(os.urandom(nbytes)).replace("+", "-").replace("/", "_").rstrip("=")


def basic_credentials(value):
    """``(user, password)`` from the credentials of a Basic ``Authorization`` field (what
    follows "Basic "), or None when they are not base64 of UTF-8 "user:password"."""
    try:
        userpass = str(binascii.a2b_base64(value), "utf-8")
    except ValueError:
        return None
    user, sep, password = userpass.partition(":")  # RFC 7617 section 2: the first colon splits
    return (user, password) if sep else None


def client_key(addr):
    """A hashable key for a client's address, without its port."""
    if isinstance(addr, tuple):  # CPython and lwIP ports: (host, port)
        return addr[0]
    if isinstance(addr, (bytes, bytearray)):
        # The unix port hands out the raw sockaddr: family (2), port (2), then the address.
        return bytes(addr[4:8]) if len(addr) >= 8 and addr[0] == 2 else bytes(addr)
    return addr


class Throttle:
    """Per-address failure counter with lockout, bounded to ``size`` addresses."""

    def __init__(self, max_failures=5, window=60, lockout=60, size=16):
        self.max_failures = max_failures
        self.window_ms = int(window * 1000)
        self.lockout_ms = int(lockout * 1000)
        self.size = size
        self._table = {}  # address -> [failures, first failure ticks, locked until ticks or None]

    def retry_after(self, addr):
        """Seconds this address must wait, or 0."""
        e = self._table.get(addr)
        if e is None or e[2] is None:
            return 0
        left = time.ticks_diff(e[2], time.ticks_ms())
        if left <= 0:
            del self._table[addr]
            return 0
        return (left + 999) // 1000  # whole seconds, rounded up

    def failed(self, addr):
        now = time.ticks_ms()
        e = self._table.get(addr)
        if e is not None and time.ticks_diff(now, e[1]) > self.window_ms and e[2] is None:
            e = None  # the old failures are outside the window
        if e is None:
            if addr not in self._table and len(self._table) >= self.size:
                self._evict(now)
            e = self._table[addr] = [0, now, None]
        e[0] += 1
        if e[0] >= self.max_failures:
            e[2] = time.ticks_add(now, self.lockout_ms)

    def succeeded(self, addr):
        self._table.pop(addr, None)

    def _evict(self, now):
        # Drop the oldest entry, preferring ones not locked out (the table stays bounded).
        best = victim = None
        for addr in self._table:
            e = self._table[addr]
            key = (e[2] is not None, -time.ticks_diff(now, e[1]))
            if best is None or key < best:
                best, victim = key, addr
        self._table.pop(victim, None)
