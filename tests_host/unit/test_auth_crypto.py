"""HMAC-SHA256, PBKDF2-HMAC-SHA256, SHA-1 and equal() against published test vectors.

Shared: runs on CPython and the MicroPython unix port (which has no hmac, no pbkdf2_hmac, no sha1).
"""

import binascii

from microhttp import crypto
from support import IS_MICROPYTHON, raises


def hexof(b):
    return binascii.hexlify(b).decode()


def test_hmac_sha256_rfc_4231_cases_1_2_and_6():
    assert hexof(crypto.hmac_sha256(b"\x0b" * 20, b"Hi There")) == \
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    assert hexof(crypto.hmac_sha256(b"Jefe", b"what do ya want for nothing?")) == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    # Case 6: a key longer than the block is hashed first (RFC 2104 section 2).
    assert hexof(crypto.hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First")) == \
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_pbkdf2_sha256_rfc_7914_vector_and_multi_block_output():
    # RFC 7914 section 11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1, dkLen=64).
    assert hexof(crypto.pbkdf2_sha256(b"passwd", b"salt", 1, 64)) == (
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")


def test_pbkdf2_matches_cpython_hashlib_for_many_iterations():
    if IS_MICROPYTHON:
        # The unix port has no reference implementation; the fixed vector above covers it.
        assert len(crypto.pbkdf2_sha256(b"password", b"salt", 50)) == 32
        return
    import hashlib

    for it in (2, 3, 100, 1000):
        assert crypto.pbkdf2_sha256(b"password", b"NaCl", it) == hashlib.pbkdf2_hmac("sha256", b"password", b"NaCl", it)


def test_pbkdf2_rejects_nonsense_parameters():
    with raises(ValueError):
        crypto.pbkdf2_sha256(b"p", b"s", 0)


def test_sha1_fips_vectors_in_pure_python():
    from microhttp.sha1 import sha1

    assert hexof(sha1(b"abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert hexof(sha1(b"")) == "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    # Two blocks (56 bytes forces the length into a second block).
    assert hexof(sha1(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) == \
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
    # 1 000 bytes: 16 blocks, so the chaining values carry across many compressions.
    assert hexof(sha1(b"a" * 1000)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba"


def test_equal_compares_whole_values():
    assert crypto.equal(b"abc", b"abc")
    assert not crypto.equal(b"abc", b"abd")
    assert not crypto.equal(b"abc", b"ab")
    assert crypto.equal(b"", b"")
