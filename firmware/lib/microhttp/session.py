"""Signed-cookie sessions (HMAC-SHA256) with expiry, for microhttp.

    from microhttp.session import Sessions

    sessions = Sessions(secret=b"32 random bytes from the config", max_age=3600, secure=False)
    sessions.install(app)               # request.g["session"] is a dict on every request

    @app.post("/login")
    async def login(request):
        resp = Response.redirect("/")
        sessions.save(resp, {"user": "admin"})  # HttpOnly, SameSite=Lax, Secure when asked
        return resp

    sessions.clear(resp)                # log out

The cookie is ``<base64url(JSON {"d": data, "e": expiry})>.<base64url(HMAC-SHA256)>``: the data
is readable by the client but cannot be changed without the key (RFC 2104); a bad signature,
an expired or malformed cookie yields an empty session, never an error or trusted data.
Expiry uses ``time.time()``: on a board without a set clock it still counts seconds since boot
time 0, so sessions end after ``max_age`` but do not survive a reboot clock reset gracefully;
set ``secret`` from stored config, or a reboot (new random key) logs everyone out.
"""

import binascii
import json
import os
import time

from microhttp.crypto import equal, hmac_sha256

MAX_COOKIE = 3072  # bytes; browsers keep at least 4096 per cookie (RFC 6265 section 6.1)


def _b64url(data):
    # RFC 4648 section 5 alphabet: every character is a valid cookie-octet (RFC 6265 4.1.1).
    return binascii.b2a_base64(data).strip().decode().replace("+", "-").replace("/", "_").rstrip("=")


def _unb64url(text):
    text = text.replace("-", "+").replace("_", "/")
    return binascii.a2b_base64(text + "=" * (-len(text) % 4))


class Sessions:
    """Sign, verify and set session cookies. ``secret``: bytes (16+), random per boot if None."""

    def __init__(self, secret=None, max_age=3600, cookie="session", path="/", secure=False,
                 same_site="Lax", http_only=True):
        if secret is None:
            secret = os.urandom(32)
        if isinstance(secret, str):
            secret = secret.encode()
        if len(secret) < 16:
            raise ValueError("session secret must be at least 16 bytes")
        self._key = secret
        self.max_age = max_age
        self.cookie = cookie
        self.path = path
        self.secure = secure
        self.same_site = same_site
        self.http_only = http_only

    def encode(self, data, now=None):
        """The signed cookie value for ``data`` (a JSON-able dict)."""
        expiry = int(now if now is not None else time.time()) + self.max_age
        body = _b64url(json.dumps({"d": data, "e": expiry}).encode())
        value = body + "." + _b64url(hmac_sha256(self._key, body.encode()))
        if len(value) > MAX_COOKIE:
            raise ValueError("session data too big for a cookie")
        return value

    def decode(self, value, now=None):
        """The data of a signed cookie value, or None if it is forged, expired or malformed."""
        if not value or len(value) > MAX_COOKIE:
            return None
        body, dot, signature = value.rpartition(".")
        if not dot:
            return None
        try:
            # Check the signature before parsing anything the client sent (RFC 2104 section 5).
            if not equal(_unb64url(signature), hmac_sha256(self._key, body.encode())):
                return None
            payload = json.loads(_unb64url(body))
            data = payload["d"]
            expiry = payload["e"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(data, dict) or int(now if now is not None else time.time()) >= expiry:
            return None
        return data

    def load(self, request):
        """The request's session dict (empty when missing, forged or expired)."""
        return self.decode(request.cookies.get(self.cookie)) or {}

    def save(self, response, data):
        """Set the session cookie on ``response``."""
        response.set_cookie(self.cookie, self.encode(data), max_age=self.max_age, path=self.path,
                            http_only=self.http_only, same_site=self.same_site, secure=self.secure)

    def clear(self, response):
        response.delete_cookie(self.cookie, path=self.path)

    def install(self, app):
        """Load the session into ``request.g["session"]`` before every request."""

        @app.before_request
        def _load_session(request):
            request.g["session"] = self.load(request)
