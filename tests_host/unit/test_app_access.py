"""app.access: the API's password check, sessions and per-address lockout (both runtimes).

Requests are stand-ins carrying what Access reads: path, headers, cookies, client address.
"""

import binascii

from app.access import MAX_SESSIONS, Access

OWNER = ("192.168.1.20", 50000)
GUESSER = ("192.168.1.66", 40000)


class FakeRequest:
    def __init__(self, client_addr, path="/api/board", authorization=None, cookies=None):
        self.client_addr = client_addr
        self.path = path
        self.headers = {"authorization": authorization} if authorization else {}
        self.cookies = cookies or {}


def basic(user, password):
    return "Basic " + binascii.b2a_base64(("%s:%s" % (user, password)).encode()).strip().decode()


def test_a_guessing_address_is_locked_out_and_the_owner_elsewhere_is_not():
    access = Access("correct horse")
    for _ in range(5):
        assert access.login(FakeRequest(GUESSER), "guess") is None
    assert access.retry_after(FakeRequest(GUESSER)) > 0
    # Locked: even the right password is refused from that address, login and Basic alike.
    assert access.login(FakeRequest(GUESSER), "correct horse") is None
    assert not access.allowed(FakeRequest(GUESSER, authorization=basic("any", "correct horse")))
    # Another address is not locked out by someone else's guesses.
    assert access.retry_after(FakeRequest(OWNER)) == 0
    assert access.login(FakeRequest(OWNER), "correct horse") is not None
    assert access.allowed(FakeRequest(OWNER, authorization=basic("owner", "correct horse")))


def test_wrong_basic_passwords_count_toward_the_lockout_of_their_address_only():
    access = Access("correct horse")
    for _ in range(5):
        assert not access.allowed(FakeRequest(GUESSER, authorization=basic("any", "nope")))
    assert access.retry_after(FakeRequest(GUESSER)) > 0
    assert access.retry_after(FakeRequest(OWNER)) == 0


def test_a_right_password_clears_the_failures_of_its_address():
    access = Access("correct horse")
    for _ in range(4):
        access.login(FakeRequest(OWNER), "typo")
    assert access.login(FakeRequest(OWNER), "correct horse") is not None
    for _ in range(4):
        access.login(FakeRequest(OWNER), "typo")
    assert access.retry_after(FakeRequest(OWNER)) == 0  # four since the success: not locked


def test_sessions_cookie_bearer_basic_and_logout():
    access = Access("correct horse")
    token = access.login(FakeRequest(OWNER), "correct horse")
    assert access.allowed(FakeRequest(GUESSER, cookies={"sid": token}))
    assert access.allowed(FakeRequest(GUESSER, authorization="Bearer " + token))
    assert not access.allowed(FakeRequest(GUESSER, authorization="Bearer " + token + "x"))
    assert not access.allowed(FakeRequest(GUESSER))
    # Basic: any user name, the password after the first colon; anything malformed is refused.
    assert access.allowed(FakeRequest(GUESSER, authorization=basic("", "correct horse")))
    for header in ("Basic !!!", "Basic " + binascii.b2a_base64(b"correct horse").strip().decode(),
                   basic("correct", "horse")):
        assert not access.allowed(FakeRequest(OWNER, authorization=header)), header
    # Only /api/ is guarded, and /api/login is open to everyone.
    assert access.allowed(FakeRequest(GUESSER, path="/"))
    assert access.allowed(FakeRequest(GUESSER, path="/api/login"))
    access.logout(token)
    assert not access.allowed(FakeRequest(OWNER, cookies={"sid": token}))
    assert not access.allowed(FakeRequest(OWNER, authorization="Bearer " + token))


def test_at_most_max_sessions_live_and_the_oldest_goes_first():
    access = Access("pw")
    tokens = [access.login(FakeRequest(OWNER), "pw") for _ in range(MAX_SESSIONS + 1)]
    assert len(set(tokens)) == MAX_SESSIONS + 1
    assert not access.allowed(FakeRequest(OWNER, cookies={"sid": tokens[0]}))
    assert all(access.allowed(FakeRequest(OWNER, cookies={"sid": t})) for t in tokens[1:])


def test_a_stored_hash_checks_the_password_it_was_made_from():
    typed = Access("correct horse")
    assert typed.stored.startswith("pbkdf2-sha256$") and "correct horse" not in typed.stored
    from_flash = Access(typed.stored)  # the next boot reads the hash back from config.json
    assert from_flash.stored == typed.stored
    assert from_flash.login(FakeRequest(OWNER), "correct horse") is not None
    assert from_flash.login(FakeRequest(OWNER), typed.stored) is None  # the hash is no password
