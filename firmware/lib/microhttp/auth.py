"""HTTP Basic (RFC 7617) and Bearer (RFC 6750) authentication for microhttp.

    from microhttp.auth import BasicAuth, BearerAuth, hash_secret

    # Store hashes, never passwords: hash_secret("s3cret") -> "pbkdf2-sha256$1000$<salt>$<key>"
    auth = BasicAuth({"admin": stored_hash}, realm="device")

    @app.get("/admin")
    @auth.required                      # per route ...
    async def admin(request):
        return "hello " + request.g["user"]

    auth.install(app, exempt=("/", "/login"))  # ... or for every route but the exempt ones

    api = BearerAuth({"phone": hash_secret(token, iterations=1)})  # tokens: high entropy

Missing or wrong credentials get 401 with ``WWW-Authenticate`` (RFC 7235 section 3.1). After
``max_failures`` failures from one client address within ``window`` seconds, that address gets
429 with ``Retry-After`` for ``lockout`` seconds, from a table of at most ``table_size``
addresses. Passwords are PBKDF2-HMAC-SHA256 (RFC 8018) with a random 16-byte salt and
``DEFAULT_ITERATIONS`` rounds; a match is cached (as an HMAC of the header under a per-boot
key) so a browser re-sending Basic credentials on every request costs one HMAC, not PBKDF2.
"""

import binascii
import os
import time

from microhttp.crypto import equal, hmac_sha256, pbkdf2_sha256

# PBKDF2 rounds (RFC 8018 section 5.2): each guess costs an attacker as much as the board's own
# check, which runs once per client (verified credentials are cached). Raise it on faster boards.
DEFAULT_ITERATIONS = 1000
_CACHE = 4  # verified Authorization values remembered (as HMACs)


def _b64(b):
    return binascii.b2a_base64(b).strip().decode()


def hash_secret(secret, iterations=DEFAULT_ITERATIONS, salt=None):
    """A storable salted hash of ``secret`` (str or bytes)."""
    if isinstance(secret, str):
        secret = secret.encode()
    salt = salt or os.urandom(16)
    key = pbkdf2_sha256(secret, salt, iterations)
    return "pbkdf2-sha256$%d$%s$%s" % (iterations, _b64(salt), _b64(key))


def verify_secret(secret, stored):
    """True when ``secret`` matches a ``hash_secret`` string; the key compare is constant-time."""
    try:
        scheme, iterations, salt, key = stored.split("$")
        iterations = int(iterations)
        salt = binascii.a2b_base64(salt)
        key = binascii.a2b_base64(key)
    except (ValueError, AttributeError):
        return False
    if scheme != "pbkdf2-sha256" or not 0 < iterations <= 1000000:
        return False
    if isinstance(secret, str):
        secret = secret.encode()
    return equal(pbkdf2_sha256(secret, salt, iterations, len(key)), key)


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


class _Auth:
    scheme = ""

    def __init__(self, realm="microhttp", throttle=None):
        self.realm = realm
        self.throttle = throttle if throttle is not None else Throttle()
        self._key = os.urandom(16)  # per-boot key for the verified-credentials cache
        self._cache = []  # [(mac, user)]

    def _verify(self, value):
        return None  # the user name for a credential value; subclasses check their scheme

    def _challenge(self, error=None):
        from microhttp.response import Response

        value = '%s realm="%s"' % (self.scheme, self.realm)
        if error:
            value += ', error="%s"' % error
        if self.scheme == "Basic":
            value += ', charset="UTF-8"'  # RFC 7617 section 2.1
        return Response("authentication required", 401, {"WWW-Authenticate": value})

    def check(self, request):
        """None when ``request`` is authenticated (``request.g["user"]`` is set), else the
        401/429 response to send."""
        from microhttp.response import Response

        addr = client_key(request.client_addr)
        wait = self.throttle.retry_after(addr)
        if wait:
            return Response("too many failed attempts", 429, {"Retry-After": str(wait)})
        header = request.headers.get("Authorization")
        if not header:
            return self._challenge()  # no credentials: not a failure (RFC 6750 section 3.1)
        scheme, _, value = header.partition(" ")
        user = None
        if scheme.lower() == self.scheme.lower() and value and len(header) <= 512:
            mac = hmac_sha256(self._key, header.encode())
            for cached, name in self._cache:
                if equal(cached, mac):
                    user = name
            if user is None:
                user = self._verify(value.strip())
                if user is not None:
                    self._cache.insert(0, (mac, user))
                    del self._cache[_CACHE:]
        if user is None:
            self.throttle.failed(addr)
            return self._challenge("invalid_token" if self.scheme == "Bearer" else None)
        self.throttle.succeeded(addr)
        request.g["user"] = user
        return None

    def required(self, handler):
        """Route decorator: run ``handler`` only for authenticated requests."""

        async def guarded(request, **params):
            denied = self.check(request)
            if denied is not None:
                return denied
            return await handler(request, **params)

        return guarded

    def install(self, app, exempt=()):
        """Require authentication on every route of ``app`` except the ``exempt`` paths (full
        request paths, also for a mounted app; an entry ending in ``*`` is a prefix)."""

        @app.before_request
        def _auth_hook(request):
            if _exempt(request.path, exempt):
                return None
            return self.check(request)


def client_key(addr):
    """A hashable key for a client's address, without its port."""
    if isinstance(addr, tuple):  # CPython and lwIP ports: (host, port)
        return addr[0]
    if isinstance(addr, (bytes, bytearray)):
        # The unix port hands out the raw sockaddr: family (2), port (2), then the address.
        return bytes(addr[4:8]) if len(addr) >= 8 and addr[0] == 2 else bytes(addr)
    return addr


def basic_credentials(value):
    """``(user, password)`` from the credentials of a Basic ``Authorization`` field (what
    follows "Basic "), or None when they are not base64 of UTF-8 "user:password"."""
    try:
        userpass = str(binascii.a2b_base64(value), "utf-8")
    except ValueError:
        return None
    user, sep, password = userpass.partition(":")  # RFC 7617 section 2: the first colon splits
    return (user, password) if sep else None


def _exempt(path, patterns):
    for p in patterns:
        if p == path or (p.endswith("*") and path.startswith(p[:-1])):
            return True
    return False


class BasicAuth(_Auth):
    """HTTP Basic: ``users`` maps user-id -> ``hash_secret(password)``."""

    scheme = "Basic"

    def __init__(self, users, realm="microhttp", throttle=None):
        super().__init__(realm, throttle)
        self.users = users

    def _verify(self, value):
        credentials = basic_credentials(value)
        if credentials is None:
            return None
        user, password = credentials
        stored = self.users.get(user)
        if stored is None:
            # Spend the same work on unknown users, so timing does not reveal valid names.
            verify_secret(password, "pbkdf2-sha256$%d$AAAAAAAAAAAAAAAAAAAAAA==$AAAA" % DEFAULT_ITERATIONS)
            return None
        return user if verify_secret(password, stored) else None


class BearerAuth(_Auth):
    """Bearer tokens (RFC 6750 section 2.1): ``tokens`` maps a name -> ``hash_secret(token)``.
    Tokens should be random (``make_token()``), so ``iterations=1`` hashes are enough."""

    scheme = "Bearer"

    def __init__(self, tokens, realm="microhttp", throttle=None):
        super().__init__(realm, throttle)
        self.tokens = tokens

    def _verify(self, value):
        found = None
        for name in self.tokens:  # every entry is checked: time does not depend on the match
            if verify_secret(value, self.tokens[name]):
                found = name
        return found


def make_token(nbytes=24):
    """A random URL-safe token (RFC 6750 section 2.1 b64token characters)."""
    return _b64(os.urandom(nbytes)).replace("+", "-").replace("/", "_").rstrip("=")
