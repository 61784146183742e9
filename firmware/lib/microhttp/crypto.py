"""Small crypto helpers over ``hashlib.sha256``: HMAC-SHA256, PBKDF2-HMAC-SHA256, SHA-1, equal().

MicroPython ports ship ``hashlib.sha256`` but neither ``hmac`` nor ``hashlib.pbkdf2_hmac``, and
some (the unix port among them) lack ``hashlib.sha1``, which the WebSocket handshake needs.

    mac = hmac_sha256(key, msg)                       # RFC 2104 with SHA-256 (32 bytes)
    dk = pbkdf2_sha256(password, salt, iterations)    # RFC 8018 section 5.2, 32-byte key
    equal(a, b)                                       # constant-time comparison
"""

import hashlib

_BLOCK = 64  # SHA-256 and SHA-1 block size in bytes (FIPS 180-4)


def _pads(key):
    # RFC 2104 section 2: keys longer than the block are hashed first, then zero-padded.
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    k = int.from_bytes(key + bytes(_BLOCK - len(key)), "big")
    # XOR the whole 64-byte key with 0x36.. / 0x5c.. at once (C speed on both runtimes).
    ipad = (k ^ int.from_bytes(b"\x36" * _BLOCK, "big")).to_bytes(_BLOCK, "big")
    opad = (k ^ int.from_bytes(b"\x5c" * _BLOCK, "big")).to_bytes(_BLOCK, "big")
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
        u = _mac(ipad, opad, salt + block.to_bytes(4, "big"))
        acc = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            u = _mac(ipad, opad, u)
            acc ^= int.from_bytes(u, "big")
        out += acc.to_bytes(32, "big")
        block += 1
    return out[:dklen]


def equal(a, b):
    """True when ``a == b``, in time that depends only on the lengths (no early exit)."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def _sha1_py(data):
    # FIPS 180-4 section 6.1; only used for the 60-byte WebSocket handshake string when the
    # port's hashlib has no sha1, so clarity beats speed here.
    h0, h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0
    ml = len(data) * 8
    data = bytes(data) + b"\x80" + bytes((55 - len(data)) % 64) + ml.to_bytes(8, "big")
    mask = 0xFFFFFFFF
    w = [0] * 80
    for off in range(0, len(data), 64):
        for i in range(16):
            w[i] = int.from_bytes(data[off + 4 * i:off + 4 * i + 4], "big")
        for i in range(16, 80):
            x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
            w[i] = ((x << 1) | (x >> 31)) & mask
        a, b, c, d, e = h0, h1, h2, h3, h4
        for i in range(80):
            if i < 20:
                f = (b & c) | (~b & d)
                k = 0x5A827999
            elif i < 40:
                f = b ^ c ^ d
                k = 0x6ED9EBA1
            elif i < 60:
                f = (b & c) | (b & d) | (c & d)
                k = 0x8F1BBCDC
            else:
                f = b ^ c ^ d
                k = 0xCA62C1D6
            t = (((a << 5) | (a >> 27)) + (f & mask) + e + k + w[i]) & mask
            e, d, c, b, a = d, c, ((b << 30) | (b >> 2)) & mask, a, t
        h0 = (h0 + a) & mask
        h1 = (h1 + b) & mask
        h2 = (h2 + c) & mask
        h3 = (h3 + d) & mask
        h4 = (h4 + e) & mask
    return b"".join(x.to_bytes(4, "big") for x in (h0, h1, h2, h3, h4))


def sha1(data):
    """SHA-1 digest (20 bytes): the port's hashlib when it has one, else pure Python."""
    impl = getattr(hashlib, "sha1", None)
    if impl is None:
        return _sha1_py(data)
    return impl(data).digest()
