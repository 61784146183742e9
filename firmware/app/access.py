"""Optional password protection for the API: login sessions, Basic/Bearer for scripts, lockout.

With ``auth.password`` set in the config, every ``/api/`` route except ``/api/login`` needs a
session cookie (set by ``POST /api/login``), ``Authorization: Bearer <token>`` (the same
token) or ``Authorization: Basic`` with any user name and the password. The page shell itself
holds no device data; it shows the password form until a session exists.

The password is kept only as a salted PBKDF2 hash (``microhttp.passwords``), in RAM and, from the
first boot on, in config.json instead of the password typed there (app.startup); sessions
live in RAM (a reboot logs everyone out), at most ``MAX_SESSIONS``, oldest dropped first. A
session's token is checked against this list rather than signed into the cookie, so a logout
ends it for good. Wrong passwords are counted per client address (``microhttp.passwords.Throttle``):
one address guessing is locked out, the owner on another is not.
"""

from microhttp.crypto import equal
from microhttp.passwords import (
    Throttle,
    basic_credentials,
    client_key,
    hash_secret,
    is_secret_hash,
    make_token,
    verify_secret,
)

MAX_SESSIONS = 8
COOKIE = "sid"
_ITERATIONS = 500  # PBKDF2 rounds per login: a guess costs an attacker the same work
_PUBLIC = ("/api/login",)


def hash_password(password):
    """The salted hash config.json keeps instead of ``password``."""
    return hash_secret(password, _ITERATIONS)


class Access:
    def __init__(self, password):
        # ``password``: as typed into config.json, or the hash app.startup keeps there instead
        # from the first boot on (``stored``).
        self.stored = password if is_secret_hash(password) else hash_password(password)
        # Five wrong passwords from one address within a minute lock that address out for 30 s
        # (a login answers 429 with Retry-After, RFC 6585 section 4).
        self.throttle = Throttle(max_failures=5, window=60, lockout=30)
        self._sessions = []  # tokens, oldest first

    def retry_after(self, request):
        """Seconds the request's client address must wait before trying a password, or 0."""
        return self.throttle.retry_after(client_key(request.client_addr))

    def _check(self, request, candidate):
        # Whether ``candidate`` is the password, counted for the request's address; a locked
        # address gets False without a check.
        address = client_key(request.client_addr)
        if self.throttle.retry_after(address):
            return False
        if isinstance(candidate, str) and verify_secret(candidate, self.stored):
            self.throttle.succeeded(address)
            return True
        self.throttle.failed(address)
        return False

    def verify(self, request, candidate):
        """Whether ``candidate`` is the password (a wrong one counts towards the request's
        address's lockout, as at the login)."""
        return self._check(request, candidate)

    def login(self, request, candidate):
        """A new session token, or None (wrong password, or the address is locked out: see
        ``retry_after()``)."""
        if not self._check(request, candidate):
            return None
        token = make_token(16)
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
        valid = False
        for session in self._sessions:  # compare against each without an early exit on a match
            if equal(session.encode(), token.encode()):
                valid = True
        return valid

    def allowed(self, request):
        """True when the request may proceed (a public path, or valid credentials)."""
        if request.path in _PUBLIC or not request.path.startswith("/api/"):
            return True
        if self._valid_token(request.cookies.get(COOKIE)):
            return True
        header = request.headers.get("authorization") or ""
        if header[:7].lower() == "bearer ":
            return self._valid_token(header[7:].strip())
        if header[:6].lower() == "basic ":
            credentials = basic_credentials(header[6:].strip())
            return credentials is not None and self._check(request, credentials[1])
        return False
