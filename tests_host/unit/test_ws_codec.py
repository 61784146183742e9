"""WebSocket frame codec (opcodes as numbers: 0 continuation, 1 text, 2 binary, 8 close, 9 ping), UTF-8 validator, close parsing and handshake key (RFC 6455), sans I/O.

Shared: runs on CPython and on the MicroPython unix port. Every frame sequence is fed twice:
in the largest pieces the reader asks for, and one byte at a time.
"""

import os

from microhttp import websocket as ws
from microhttp.websocket import FrameReader, ProtocolError
from support import FakeRequest, raises


def client_frame(opcode, payload, fin=True, mask=b"\x37\xfa\x21\x3d", rsv=0, masked=True, length=None):
    """A client frame as RFC 6455 section 5.2 lays it out (independent of the server code)."""
    n = len(payload) if length is None else length
    out = bytearray()
    out.append((0x80 if fin else 0) | rsv | opcode)
    mbit = 0x80 if masked else 0
    if n < 126:
        out.append(mbit | n)
    elif n < 65536:
        out.append(mbit | 126)
        out += n.to_bytes(2, "big")
    else:
        out.append(mbit | 127)
        out += n.to_bytes(8, "big")
    if masked:
        out += mask
        out += bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    else:
        out += payload
    return bytes(out)


def feed(reader, data, bytewise):
    """Feed ``data`` the way the server does; return the list of events."""
    events = []
    i = 0
    while i < len(data):
        mv = reader.buffer()
        assert len(mv) > 0
        n = 1 if bytewise else min(len(mv), len(data) - i)
        mv[:n] = data[i:i + n]
        i += n
        ev = reader.received(n)
        if ev is not None:
            events.append(ev)
    return events


def both(data, max_message=4096):
    whole = feed(FrameReader(max_message), data, False)
    single = feed(FrameReader(max_message), data, True)
    assert whole == single, (whole, single)
    return whole


def fails(data, code, max_message=4096):
    for bytewise in (False, True):
        with raises(ProtocolError) as caught:
            feed(FrameReader(max_message), data, bytewise)
        assert caught.value.code == code, (caught.value.code, caught.value.reason)


def test_text_and_binary_messages_in_every_length_form():
    for n in (0, 1, 125, 126, 300, 65535, 65536):
        payload = bytes(i * 7 % 251 for i in range(n))
        evs = both(client_frame(2, payload), max_message=70000)
        assert evs == [(2, payload)], n
    evs = both(client_frame(1, "héllo wörld €".encode()))
    assert evs == [(1, "héllo wörld €")]


def test_unmask_matches_a_bytewise_xor_for_odd_lengths():
    mask = b"\x01\x80\xff\x3c"
    for n in (1, 3, 127, 128, 129, 300):
        data = bytes(os.urandom(n))
        buf = bytearray(data)
        ws.unmask(buf, mask)
        assert bytes(buf) == bytes(b ^ mask[i % 4] for i, b in enumerate(data)), n


def test_fragmented_message_with_interleaved_ping():
    text = "ünïcode split across fragments"
    raw = text.encode()
    cut1 = 1  # inside no character
    cut2 = raw.index("ï".encode()) + 1  # inside the two-byte "ï": valid only when joined
    data = (client_frame(1, raw[:cut1], fin=False)
            + client_frame(0, raw[cut1:cut2], fin=False)
            + client_frame(9, b"are you there")
            + client_frame(0, raw[cut2:], fin=True))
    assert both(data) == [(9, b"are you there"), (1, text)]


def test_fragmented_binary_and_empty_fragments():
    data = (client_frame(2, b"", fin=False) + client_frame(0, b"ab", fin=False)
            + client_frame(0, b"", fin=False) + client_frame(0, b"cd"))
    assert both(data) == [(2, b"abcd")]


def test_unmasked_client_frame_is_a_protocol_error():
    fails(client_frame(1, b"hi", masked=False), 1002)


def test_reserved_opcodes_and_rsv_bits_are_protocol_errors():
    for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xF):
        fails(client_frame(op, b"x"), 1002)
    for rsv in (0x40, 0x20, 0x10):
        fails(client_frame(1, b"x", rsv=rsv), 1002)


def test_control_frame_rules():
    fails(client_frame(9, b"x", fin=False), 1002)  # fragmented control frame
    fails(client_frame(9, b"x" * 126), 1002)  # control payload over 125 bytes


def test_continuation_rules():
    fails(client_frame(0, b"x"), 1002)  # nothing to continue
    fails(client_frame(1, b"a", fin=False) + client_frame(1, b"b"), 1002)


def test_oversize_message_is_refused_before_its_payload_arrives():
    reader = FrameReader(100)
    head = client_frame(2, b"", length=101)[:2]  # header only, 7-bit length 101
    with raises(ProtocolError) as caught:
        feed(reader, head + b"\x00\x00\x00\x00", False)
    assert caught.value.code == 1009
    # 64-bit length: refused from the header alone, nothing of that size is allocated.
    huge = bytes((0x82, 0xFF)) + (1 << 40).to_bytes(8, "big") + b"mask"
    fails(huge, 1009, max_message=100)
    # The limit counts the whole message across fragments.
    fails(client_frame(2, b"x" * 60, fin=False) + client_frame(0, b"y" * 41), 1009, 100)
    assert both(client_frame(2, b"x" * 60, fin=False) + client_frame(0, b"y" * 40), 100) \
        == [(2, b"x" * 60 + b"y" * 40)]


def test_64_bit_length_with_top_bit_is_a_protocol_error():
    fails(bytes((0x82, 0xFF)) + b"\x80" + bytes(7) + b"mask", 1002)


def test_invalid_utf8_text_is_1007_also_across_fragments():
    for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80\xaf",
                b"\xce", b"abc\x80", b"\xf8\x88\x80\x80\x80", b"\xc2A"):
        fails(client_frame(1, bad), 1007)
    # "κ" split across two fragments is fine; a truncated sequence at the end is not.
    assert both(client_frame(1, b"\xce", fin=False) + client_frame(0, b"\xba")) \
        == [(1, "κ")]
    fails(client_frame(1, b"ok", fin=False) + client_frame(0, b"\xe2\x82"), 1007)


def test_decode_utf8_accepts_the_edges_of_valid_utf8():
    for good in (b"", b"\x7f", b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80", b"\xed\x9f\xbf",
                 b"\xee\x80\x80", b"\xef\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf"):
        assert ws.decode_utf8(good).encode() == good


def test_parse_close():
    assert ws.parse_close(b"") == (1005, "")
    assert ws.parse_close(b"\x03\xe8bye") == (1000, "bye")
    assert ws.parse_close(b"\x0f\xa0") == (4000, "")
    for code in (999, 1004, 1005, 1006, 1015, 1016, 2999, 5000):
        with raises(ProtocolError) as caught:
            ws.parse_close(code.to_bytes(2, "big"))
        assert caught.value.code == 1002, code
    with raises(ProtocolError):
        ws.parse_close(b"\x03")
    with raises(ProtocolError) as caught:
        ws.parse_close(b"\x03\xe8\xff")
    assert caught.value.code == 1007


def test_encode_header_length_forms():
    head = bytearray(10)
    assert ws.encode_header(head, 1, 5) == 2 and head[:2] == b"\x81\x05"
    assert ws.encode_header(head, 2, 300) == 4 and head[:4] == b"\x82\x7e\x01\x2c"
    assert ws.encode_header(head, 2, 70000) == 10 and head[:10] == b"\x82\x7f" + (70000).to_bytes(8, "big")
    assert ws.encode_header(head, 1, 1, fin=False) == 2 and head[0] == 0x01


def test_accept_key_matches_rfc_6455_example():
    # RFC 6455 section 1.3 worked example.
    assert ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


GOOD = {"Upgrade": "websocket", "Connection": "keep-alive, Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}


def test_check_handshake_statuses_protocols_and_origins():
    def check(changes, method="GET", **kw):
        h = dict(GOOD)
        for k in changes:
            if changes[k] is None:
                del h[k]
            else:
                h[k] = changes[k]
        return ws.check_handshake(FakeRequest(method=method, headers=h), **kw)

    assert check({}) == ("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", None)
    assert check({"Upgrade": "WebSocket", "Connection": "UPGRADE"})[0] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    for bad in ({"Upgrade": None}, {"Connection": None}, {"Connection": "close"},
                {"Sec-WebSocket-Key": None}, {"Sec-WebSocket-Key": "short"},
                {"Sec-WebSocket-Version": None}):
        assert check(bad)[0] == 400, bad
    assert check({}, method="POST")[0] == 400
    assert check({"Sec-WebSocket-Version": "8"})[0] == 426
    assert check({"Sec-WebSocket-Protocol": "mqtt, chat"}, protocols=("chat", "json"))[1] == "chat"
    assert check({"Sec-WebSocket-Protocol": "mqtt"}, protocols=("chat",))[1] is None
    assert check({"Origin": "http://evil"}, origins=("http://good",))[0] == 403
    assert check({"Origin": "http://good"}, origins=("http://good",))[0] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
