"""microhttp.websocket over real sockets on both runtimes: the `websockets` client library
(echo, fragments, pings, close codes, oversize), raw sockets for malformed handshakes and
frames, server pings dropping a silent peer, and the hub dropping dead clients."""

import base64
import contextlib
import os
import socket
import time

import httpx
import launch
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

CPYTHON_ONLY = True
WAIT = 10  # seconds any single wait may take before the test fails


@pytest.fixture(scope="module", params=launch.RUNTIMES)
def server(request):
    with launch.serve_app(request.param, "ext_ws_app.py", heapsize="512k") as proc:
        proc.ws_url = "ws://127.0.0.1:%d" % proc.port
        yield proc


def closed_with(ws, action):
    with pytest.raises(ConnectionClosed) as caught:
        action()
    return caught.value.rcvd.code if caught.value.rcvd else None


# ------------------------------------------------------------------ with the websockets library

def test_echo_text_binary_and_unicode(server):
    with connect(server.ws_url + "/echo", open_timeout=WAIT) as ws:
        for msg in ("hello", "ünïcödé ✓ 𝄞", "", b"\x00\xff binary", b"x" * 1024, "y" * 1024):
            ws.send(msg)
            assert ws.recv(timeout=WAIT) == msg


def test_fragmented_messages_are_reassembled(server):
    with connect(server.ws_url + "/echo", open_timeout=WAIT) as ws:
        ws.send(["frag", "men", "ted ✓"])  # three frames: text + two continuations
        assert ws.recv(timeout=WAIT) == "fragmented ✓"
        ws.send([b"\x01" * 300, b"\x02" * 300, b"\x03"])
        assert ws.recv(timeout=WAIT) == b"\x01" * 300 + b"\x02" * 300 + b"\x03"


def test_client_ping_gets_pong(server):
    with connect(server.ws_url + "/echo", open_timeout=WAIT) as ws:
        for payload in (b"", b"abc", b"z" * 125):
            assert ws.ping(payload).wait(WAIT)


def test_normal_close_is_echoed(server):
    with connect(server.ws_url + "/echo", open_timeout=WAIT) as ws:
        ws.close(1000, "bye")
    assert ws.close_code == 1000  # the server answered our close frame (RFC 6455 5.5.1)
    server.wait_for(r"WS END /echo 1000", WAIT)


def test_oversize_message_closes_with_1009(server):
    with connect(server.ws_url + "/echo", open_timeout=WAIT) as ws:
        ws.send("x" * 1025)  # max_message is 1024
        assert closed_with(ws, lambda: ws.recv(timeout=WAIT)) == 1009
    with connect(server.ws_url + "/echo", open_timeout=WAIT) as ws:
        ws.send(["x" * 600, "y" * 600])  # the limit holds across fragments too
        assert closed_with(ws, lambda: ws.recv(timeout=WAIT)) == 1009


def test_server_close_code_and_handler_error_reach_the_client(server):
    with connect(server.ws_url + "/closer", open_timeout=WAIT) as ws:
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=WAIT)
        assert caught.value.rcvd.code == 1008 and caught.value.rcvd.reason == "go away"
    with connect(server.ws_url + "/fail", open_timeout=WAIT) as ws:
        ws.send("boom")
        assert closed_with(ws, lambda: ws.recv(timeout=WAIT)) == 1011
    assert "handler bug (expected by the test)" in server.wait_for("handler bug", WAIT)


def test_server_pings_keep_a_responsive_client(server):
    # The library answers pings by itself; 1.5 s idle spans several 0.3 s ping rounds.
    with connect(server.ws_url + "/pinged", open_timeout=WAIT) as ws:
        ws.send("before")
        assert ws.recv(timeout=WAIT) == "before"
        time.sleep(1.5)
        ws.send("after")
        assert ws.recv(timeout=WAIT) == "after"


# ------------------------------------------------------------------ raw sockets

def handshake(port, path="/echo", extra=b"", key=None, version=b"13", upgrade=b"websocket",
              connection=b"Upgrade", rcvbuf=None):
    key = key if key is not None else base64.b64encode(os.urandom(16))
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: small window
    s.settimeout(WAIT)
    s.connect(("127.0.0.1", port))
    req = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if upgrade is not None:
        req += b"Upgrade: " + upgrade + b"\r\n"
    if connection is not None:
        req += b"Connection: " + connection + b"\r\n"
    if key:
        req += b"Sec-WebSocket-Key: " + key + b"\r\n"
    if version is not None:
        req += b"Sec-WebSocket-Version: " + version + b"\r\n"
    s.sendall(req + extra + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return s, head


def status_of(head):
    return int(head.split(b" ", 2)[1])


def test_bad_handshakes_are_refused(server):
    cases = [
        (dict(upgrade=None), 400),
        (dict(upgrade=b"h2c"), 400),
        (dict(connection=None), 400),
        (dict(connection=b"keep-alive"), 400),
        (dict(key=b""), 400),
        (dict(key=b"dG9vIHNob3J0"), 400),  # base64 of 9 bytes, not 16
        (dict(key=b"!!!!!!!!!!!!!!!!!!!!!!=="), 400),
        (dict(version=None), 400),
    ]
    for kwargs, want in cases:
        s, head = handshake(server.port, **kwargs)
        s.close()
        assert status_of(head) == want, (kwargs, head)
    s, head = handshake(server.port, version=b"8")
    s.close()
    assert status_of(head) == 426
    assert b"sec-websocket-version: 13" in head.lower()  # RFC 6455 4.4


def test_good_raw_handshake_has_the_rfc_accept_value(server):
    s, head = handshake(server.port, key=b"dGhlIHNhbXBsZSBub25jZQ==", connection=b"keep-alive, Upgrade")
    s.close()
    assert status_of(head) == 101
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head  # RFC 6455 section 1.3
    assert b"content-length" not in head.lower() and b"transfer-encoding" not in head.lower()


def frame(opcode, payload, fin=True, masked=True, mask=b"\x0f\xf0\xaa\x55"):
    n = len(payload)
    b = bytes([(0x80 if fin else 0) | opcode])
    m = 0x80 if masked else 0
    if n < 126:
        b += bytes([m | n])
    else:
        b += bytes([m | 126]) + n.to_bytes(2, "big")
    if masked:
        return b + mask + bytes(x ^ mask[i % 4] for i, x in enumerate(payload))
    return b + payload


def read_until_eof(s, stop_at_close=False):
    """Server bytes until EOF (or, like a real client, until its close frame has arrived)."""
    data = b""
    s.settimeout(WAIT)
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk
        if stop_at_close and close_code(data) is not None:
            return data


def close_code(data):
    """The status code of the first close frame in server bytes (servers do not mask)."""
    i = 0
    while i + 2 <= len(data):
        op = data[i] & 0x0F
        n = data[i + 1] & 0x7F
        j = i + 2
        if n == 126:
            n = int.from_bytes(data[j:j + 2], "big")
            j += 2
        if op == 8:
            return int.from_bytes(data[j:j + 2], "big")
        i = j + n
    return None


def test_malformed_frames_close_with_the_right_code(server):
    cases = [
        (frame(1, b"unmasked", masked=False), 1002),
        (frame(3, b"reserved opcode"), 1002),
        (bytes([0xC1]) + frame(1, b"rsv1")[1:], 1002),
        (frame(9, b"fragmented ping", fin=False), 1002),
        (frame(0, b"continuation of nothing"), 1002),
        (frame(1, b"a", fin=False) + frame(1, b"b"), 1002),
        (frame(1, b"bad \xff utf-8"), 1007),
        (frame(1, b"\xed\xa0\x80"), 1007),  # a UTF-16 surrogate: MicroPython's str() allows it
        (frame(1, b"\xce", fin=False) + frame(0, b"A"), 1007),  # broken across fragments
        (frame(8, b"\x03"), 1002),  # one-byte close payload
        (frame(8, (1005).to_bytes(2, "big")), 1002),  # reserved close code on the wire
    ]
    for data, want in cases:
        s, head = handshake(server.port)
        assert status_of(head) == 101
        s.sendall(data)
        got = read_until_eof(s, stop_at_close=True)  # then we close, as clients do (7.1.1)
        s.close()
        assert close_code(got) == want, (data, got)


def test_silent_peer_is_dropped_after_unanswered_ping(server):
    s, head = handshake(server.port, path="/pinged")
    assert status_of(head) == 101
    got = read_until_eof(s)  # we never answer: the server must give up and close
    s.close()
    assert got[:1] == b"\x89"  # it pinged first (FIN + opcode 9)
    server.wait_for(r"WS END /pinged 1006", WAIT)


# ------------------------------------------------------------------ the hub

def members(server):
    return httpx.get(server.url + "/count", timeout=WAIT).json()["members"]


def wait_members(server, n):
    deadline = time.monotonic() + WAIT
    while members(server) != n:
        assert time.monotonic() < deadline, "hub never reached %d members" % n
        time.sleep(0.05)


def test_hub_broadcasts_to_live_clients_and_drops_dead_ones(server):
    wait_members(server, 0)
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(connect(server.ws_url + "/hub", open_timeout=WAIT))
        b = stack.enter_context(connect(server.ws_url + "/hub", open_timeout=WAIT))
        _live_and_dead_clients(server, a, b)
    wait_members(server, 0)


def _live_and_dead_clients(server, a, b):
    raw, head = handshake(server.port, path="/hub")
    assert status_of(head) == 101
    wait_members(server, 3)
    r = httpx.post(server.url + "/broadcast", content="first", timeout=WAIT).json()
    assert r == {"sent": 3, "members": 3}
    assert a.recv(timeout=WAIT) == "first" and b.recv(timeout=WAIT) == "first"
    # Kill the raw client without a close frame (RST): the hub must drop it, not raise.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    raw.close()
    wait_members(server, 2)
    for i in range(5):
        r = httpx.post(server.url + "/broadcast", content="msg %d" % i, timeout=WAIT).json()
        assert r == {"sent": 2, "members": 2}
    assert [a.recv(timeout=WAIT) for _ in range(5)] == ["msg %d" % i for i in range(5)]
    assert [b.recv(timeout=WAIT) for _ in range(5)] == ["msg %d" % i for i in range(5)]


def test_hub_is_bounded(server):
    wait_members(server, 0)
    with contextlib.ExitStack() as stack:
        for _ in range(4):
            stack.enter_context(connect(server.ws_url + "/hub", open_timeout=WAIT))
        wait_members(server, 4)
        with connect(server.ws_url + "/hub", open_timeout=WAIT) as extra:
            assert closed_with(extra, lambda: extra.recv(timeout=WAIT)) == 1008
    wait_members(server, 0)


def server_frames(data):
    """(opcode, payload) of each complete unmasked frame in ``data``, and the rest."""
    out = []
    i = 0
    while i + 2 <= len(data):
        n = data[i + 1] & 0x7F
        j = i + 2
        if n == 126:
            if j + 2 > len(data):
                break
            n = int.from_bytes(data[j:j + 2], "big")
            j += 2
        elif n == 127:
            if j + 8 > len(data):
                break
            n = int.from_bytes(data[j:j + 8], "big")
            j += 8
        if j + n > len(data):
            break
        out.append((data[i] & 0x0F, data[j:j + n]))
        i = j + n
    return out, data[i:]


FLOOD = 3000


def test_concurrent_senders_under_backpressure_never_mix_or_lose_frames(server):
    import threading

    wait_members(server, 0)
    # 6 MB: more than the kernel buffers between us (Linux tcp_wmem max is 4 MB), so the
    # server's writes really stall in drain() while both senders are active.
    s, head = handshake(server.port, path="/flood?n=%d" % FLOOD, rcvbuf=4096)
    assert status_of(head) == 101
    wait_members(server, 1)
    replies = []

    def broadcasts():
        for i in range(20):
            r = httpx.post(server.url + "/broadcast", content="H%02d:" % i + "h" * 2000, timeout=WAIT)
            replies.append(r.json()["sent"])

    t = threading.Thread(target=broadcasts)
    t.start()
    time.sleep(1)  # not reading yet: the socket buffers fill and both senders wait in drain()
    s.settimeout(WAIT)
    got, rest = [], b""
    while not (len([m for m in got if m.startswith(b"H")]) == 20 and b"done" in got):
        chunk = s.recv(65536)
        assert chunk, "connection closed early"
        frames, rest = server_frames(rest + chunk)
        got += [payload for op, payload in frames if op == 1]
    t.join(WAIT)
    s.close()
    echoes = [m for m in got if m.startswith(b"E")]
    hubs = [m for m in got if m.startswith(b"H")]
    assert echoes == [b"E%04d:" % i + b"e" * 2000 for i in range(FLOOD)]
    assert hubs == [b"H%02d:" % i + b"h" * 2000 for i in range(20)]
    assert replies == [1] * 20
