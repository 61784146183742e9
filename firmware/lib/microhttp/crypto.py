"""Small crypto helpers over ``hashlib.sha256``: HMAC-SHA256, PBKDF2-HMAC-SHA256, equal().

MicroPython ports ship ``hashlib.sha256`` but neither ``hmac`` nor ``hashlib.pbkdf2_hmac``.
(SHA-1, for the WebSocket handshake only, is ``microhttp.sha1``.)

    mac = hmac_sha256(key, msg)                       # RFC 2104 with SHA-256 (32 bytes)
    dk = pbkdf2_sha256(password, salt, iterations)    # RFC 8018 section 5.2, 32-byte key
    equal(first, second)                              # constant-time comparison
"""

import hashlib

_BLOCK = 64  # SHA-256 and SHA-1 block size in bytes (FIPS 180-4)


def _pads(key):
    # RFC 2104 section 2: keys longer than the block are hashed first, then zero-padded.
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    padded = int.from_bytes(key + bytes(_BLOCK - len(key)), "big")
    # XOR the whole 64-byte key with 0x36.. / 0x5c.. at once (C speed on both runtimes).
    ipad = (padded ^ int.from_bytes(b"\x36" * _BLOCK, "big")).to_bytes(_BLOCK, "big")
    opad = (padded ^ int.from_bytes(b"\x5c" * _BLOCK, "big")).to_bytes(_BLOCK, "big")
    return ipad, opad


def _mac(ipad, opad, msg):
    inner = hashlib.sha256(ipad)
    inner.update(msg)
    outer = hashlib.sha256(opad)
    outer.update(inner.digest())
    return outer.digest()


def hmac_sha256(key, msg):
    """HMAC-SHA256 of ``msg`` (bytes) under ``key`` (bytes), RFC 2104."""
    ipad, opad = _pads(key)
    return _mac(ipad, opad, msg)


def pbkdf2_sha256(password, salt, iterations, dklen=32):
    """PBKDF2-HMAC-SHA256 (RFC 8018 section 5.2). Cost is linear in ``iterations``."""
    if iterations < 1 or dklen < 1:
        raise ValueError("iterations and dklen must be positive")
    ipad, opad = _pads(password)
    out = b""
    block = 1
    while len(out) < dklen:
        # T_block = U_1 ^ U_2 ^ ... ^ U_c (section 5.2), XORed as one big integer.
        u = _mac(ipad, opad, salt + block.to_bytes(4, "big"))
        t_block = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            u = _mac(ipad, opad, u)
            t_block ^= int.from_bytes(u, "big")
        out += t_block.to_bytes(32, "big")
        block += 1
    return out[:dklen]


def equal(first, second):
    """True when ``first == second``, in time that depends only on the lengths (no early exit)."""
    if len(first) != len(second):
        return False
    difference = 0
    for i in range(len(first)):
        difference |= first[i] ^ second[i]
    return difference == 0
