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

import os

from microhttp.crypto import equal, hmac_sha256

# The building blocks live in microhttp.passwords (an app with its own check loads only
# that); they are names of this module too.
from microhttp.passwords import (  # noqa: F401 (re-exported)
    DEFAULT_ITERATIONS,
    Throttle,
    basic_credentials,
    client_key,
    hash_secret,
    make_token,
    verify_secret,
)
from microhttp.router import guarded, path_in

_CACHE = 4  # verified Authorization values remembered (as HMACs)


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
        return guarded(self.check, handler)

    def install(self, app, exempt=()):
        """Require authentication on every route of ``app`` except the ``exempt`` paths (full
        request paths, also for a mounted app; an entry ending in ``*`` is a prefix)."""

        @app.before_request
        def _auth_hook(request):
            if path_in(request.path, exempt):
                return None
            return self.check(request)


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
