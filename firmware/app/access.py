"""Optional password protection for the API: login sessions, Basic/Bearer for scripts, lockout.

With ``auth.password`` set in the config, every ``/api/`` route except ``/api/login`` needs a
session cookie (set by ``POST /api/login``), ``Authorization: Bearer <token>`` (the same
token) or ``Authorization: Basic`` with any user name and the password. The page shell itself
holds no device data; it shows the password form until a session exists.

The password is kept only as a PBKDF2 key with a random salt made at boot; sessions live in
RAM (a reboot logs everyone out), at most ``MAX_SESSIONS``, oldest dropped first.
"""

import binascii
import os
import time

from microhttp.crypto import equal, pbkdf2_sha256

MAX_SESSIONS = 8
COOKIE = "sid"
_ITERATIONS = 500  # a few tens of ms on an ESP32 per login; a guess costs the same
_MAX_FAILS = 5  # then refuse logins for _LOCK_MS (answered 429)
_LOCK_MS = 30000
_PUBLIC = ("/api/login",)


class Access:
    def __init__(self, password):
        self.enabled = bool(password)
        self._salt = os.urandom(16)
        self._key = pbkdf2_sha256(password.encode(), self._salt, _ITERATIONS) if password else None
        self._sessions = []  # tokens, oldest first
        self._fails = 0
        self._locked_until = None

    def check_password(self, candidate):
        if not self.enabled or not isinstance(candidate, str):
            return False
        return equal(pbkdf2_sha256(candidate.encode(), self._salt, _ITERATIONS), self._key)

    def locked(self):
        if self._locked_until is None:
            return False
        if time.ticks_diff(self._locked_until, time.ticks_ms()) > 0:
            return True
        self._locked_until = None
        self._fails = 0
        return False

    def login(self, candidate):
        """A new session token, or None (wrong password). Raises nothing; see ``locked()``."""
        if self.locked():
            return None
        if not self.check_password(candidate):
            self._fails += 1
            if self._fails >= _MAX_FAILS:
                self._locked_until = time.ticks_add(time.ticks_ms(), _LOCK_MS)
            return None
        self._fails = 0
        token = binascii.hexlify(os.urandom(16)).decode()
        self._sessions.append(token)
        if len(self._sessions) > MAX_SESSIONS:
            self._sessions.pop(0)
        return token

    def logout(self, token):
        if token in self._sessions:
            self._sessions.remove(token)

    def _valid_token(self, token):
        if not token:
            return False
        ok = False
        for t in self._sessions:  # compare against each without an early exit on a match
            if equal(t.encode(), token.encode()):
                ok = True
        return ok

    def allowed(self, request):
        """True when the request may proceed (auth off, a public path, or valid credentials)."""
        if not self.enabled or request.path in _PUBLIC or not request.path.startswith("/api/"):
            return True
        if self._valid_token(request.cookies.get(COOKIE)):
            return True
        header = request.headers.get("authorization") or ""
        if header[:7].lower() == "bearer ":
            return self._valid_token(header[7:].strip())
        if header[:6].lower() == "basic " and not self.locked():
            try:
                user_pass = binascii.a2b_base64(header[6:].strip()).decode()
            except Exception:
                return False
            ok = self.check_password(user_pass[user_pass.find(":") + 1:])
            if not ok:
                self._fails += 1
                if self._fails >= _MAX_FAILS:
                    self._locked_until = time.ticks_add(time.ticks_ms(), _LOCK_MS)
            return ok
        return False
