"""Incremental multipart/form-data and urlencoded parsing, sans I/O, fed in every chunk size.

Shared: runs on CPython and the MicroPython unix port.
"""

from microhttp.errors import HTTPError
from microhttp.multipart import (
    DATA,
    END,
    END_PART,
    NEED,
    PART,
    MultipartParser,
    UrlencodedParser,
    boundary_of,
    safe_name,
)
from support import raises

B = "----formBoundary7MA4YWxkTrZu0gW"


def body(parts, preamble=b"", epilogue=b""):
    """A multipart body built the way RFC 7578 section 4 describes it."""
    out = preamble
    if preamble:
        out += b"\r\n"
    for name, filename, data in parts:
        out += b"--" + B.encode() + b"\r\n"
        disp = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
        if filename is not None:
            disp += b'; filename="' + filename.encode() + b'"'
        out += disp + b"\r\n"
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + b"--" + B.encode() + b"--" + epilogue


def parse(raw, chunk, buffer_size=64):
    p = MultipartParser(B, buffer_size=buffer_size, max_header=256)
    parts = []
    cur = None
    ended = False
    for i in range(0, len(raw), chunk):
        piece = raw[i:i + chunk]
        off = 0
        while off < len(piece):
            off += p.feed(piece[off:])
            while True:
                ev = p.next()
                if ev == NEED:
                    break
                if ev == PART:
                    cur = [p.name, p.filename, bytearray()]
                elif ev == DATA:
                    assert len(p.data) > 0
                    cur[2].extend(p.data)
                elif ev == END_PART:
                    parts.append((cur[0], cur[1], bytes(cur[2])))
                elif ev == END:
                    ended = True
    p.eof()
    assert ended
    return parts


def check(parts, **kw):
    raw = body(parts, **kw)
    for chunk in (1, 2, 3, 7, 16, 63, 64, 65, 200, len(raw)):
        assert parse(raw, chunk) == parts, chunk


def test_fields_and_files_in_every_chunk_size():
    blob = bytes((i * 31 + 7) & 0xFF for i in range(700))
    check([("title", None, "héllo".encode()), ("file", "a.bin", blob), ("empty", None, b"")])


def test_data_that_looks_almost_like_a_delimiter():
    tricky = b"\r\n--" + B[:-1].encode() + b"X\r\n-\r\n--\r\r\n\n--" + B[:10].encode()
    check([("f", "t.txt", tricky), ("g", None, b"--" + B.encode()[:-2])])


def test_preamble_and_epilogue_are_ignored():
    check([("a", None, b"1")], preamble=b"this is the preamble", epilogue=b"\r\nepilogue text")


def test_truncated_body_is_an_error():
    raw = body([("a", None, b"12345")])
    for cut in (10, len(raw) - 3, len(raw) - 1):
        with raises(HTTPError) as caught:
            parse(raw[:cut], 5)
        assert caught.value.status == 400


def test_oversize_or_bad_part_headers_are_errors():
    raw = b"--" + B.encode() + b"\r\nContent-Disposition: form-data; name=\"" + b"x" * 400 + b"\"\r\n\r\nv\r\n--" + \
        B.encode() + b"--"
    with raises(HTTPError, "too large"):
        parse(raw, 16)
    with raises(HTTPError, "without a name"):
        parse(b"--" + B.encode() + b"\r\nContent-Type: text/plain\r\n\r\nv\r\n--" + B.encode() + b"--", 8)
    with raises(HTTPError, "delimiter"):
        parse(b"--" + B.encode() + b"XX\r\n\r\nv\r\n--" + B.encode() + b"--", 8)


def test_boundary_of_and_safe_name():
    assert boundary_of("multipart/form-data; boundary=abc") == "abc"
    assert boundary_of('multipart/form-data; charset=utf-8; boundary="a b:c"') == "a b:c"
    assert boundary_of("multipart/form-data") is None
    assert boundary_of("multipart/form-data; boundary=" + "x" * 71) is None
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\me\\pic ture.png") == "pic_ture.png"
    assert safe_name("..hidden") == "hidden"
    with raises(HTTPError):
        safe_name("../..")


def test_urlencoded_incremental_with_limits():
    raw = b"a=1&name=J%C3%BCrgen+M&empty=&flag&x=%26%3D"
    for chunk in (1, 2, 5, len(raw)):
        p = UrlencodedParser(max_field=64, max_fields=8)
        fields = {}
        for i in range(0, len(raw), chunk):
            p.feed(raw[i:i + chunk], fields)
        p.finish(fields)
        assert fields == {"a": "1", "name": "Jürgen M", "empty": "", "flag": "", "x": "&="}, chunk
    p = UrlencodedParser(max_field=8)
    with raises(HTTPError) as caught:
        p.feed(b"k=" + b"v" * 20, {})
    assert caught.value.status == 413
    p = UrlencodedParser(max_fields=2)
    with raises(HTTPError, "too many"):
        p.feed(b"a=1&b=2&c=3&", {})
