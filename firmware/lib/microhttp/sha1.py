"""SHA-1 in pure Python, for ports whose ``hashlib`` has no ``sha1`` (the unix port among them).

Its one user is the WebSocket opening handshake (RFC 6455 section 4.2.2), which loads it only
when ``hashlib.sha1`` is missing: boards with one (ESP32, RP2 with networking) never do.
"""


def sha1(data):
    """The 20-byte SHA-1 digest of ``data`` (FIPS 180-4 section 6.1)."""
    # Only hashes the 60-byte WebSocket handshake string, so clarity beats speed here. The
    # names are the standard's: h0-h4, the schedule w, the working variables a-e, f and k.
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
