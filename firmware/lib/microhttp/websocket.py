"""WebSocket server (RFC 6455) for microhttp, with a broadcast hub.

    from microhttp.websocket import websocket, Hub, ConnectionClosed

    hub = Hub()

    @app.get("/ws")
    @websocket(max_message=4096, ping_interval=20)
    async def ws_handler(request, ws):
        await hub.serve(ws)             # join the hub and keep reading until the client leaves
        # or by hand:  while True: msg = await ws.receive(); await ws.send(msg)

    await hub.broadcast("led=1")        # every live client; dead ones are dropped, never raised
    hub.publish("led=1")                # the same from synchronous code (driver callbacks)

``ws.receive()`` returns ``str`` (text) or ``bytes`` (binary) and raises ``ConnectionClosed``
(with ``.code``) when the peer closes or fails. ``ws.send(str | bytes)``, ``ws.ping()``,
``ws.close(code, reason)``. Fragmented messages are reassembled (up to ``max_message`` bytes,
else close 1009); pings are answered; text is UTF-8 validated (else 1007); protocol errors
close with 1002; an exception escaping the handler closes with 1011. With ``ping_interval``
the server pings an idle peer and drops it when no frame arrives within ``ping_timeout``;
this needs someone reading (``receive()`` or ``hub.serve()``), as a dead TCP peer can only be
told from a quiet one by an unanswered ping.

Frames are parsed by ``FrameReader``, a sans-I/O pull parser: it hands out the exact region
(``buffer()``) the next bytes must be read into, so the header goes into a 14-byte buffer and a
payload straight into a buffer allocated only after its length passed the size check.
"""

import asyncio
import binascii
import time

from microhttp import compat
from microhttp.crypto import sha1

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

# Close codes, RFC 6455 section 7.4.1.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_STATUS = 1005  # never sent on the wire (section 7.4.1)
CLOSE_ABNORMAL = 1006  # never sent on the wire: the TCP connection just ended
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
_UNMASK_BLOCK = 128  # bytes XORed per big-int step: C speed, small bounded temporaries
_CLOSE_WAIT_MS = 2000
_QUIET_MS = 200  # after failing: input silence that ends the wait for the peer's close frame
_SMALL = 256  # payloads up to this size are sent together with their header  # how long close() waits for the peer's close frame (section 7.1.1)


class ProtocolError(Exception):
    """The peer broke RFC 6455; ``code`` is the close code to send."""

    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class ConnectionClosed(Exception):
    """The WebSocket is closed; ``code`` is the peer's close code or 1006 (no close frame)."""

    def __init__(self, code=CLOSE_ABNORMAL, reason=""):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


# ---------------------------------------------------------------- UTF-8 (RFC 3629 section 4)

def _lax_decoder():
    # MicroPython's str() checks UTF-8 structure (lead byte + continuation count) but accepts
    # overlong forms, surrogates and code points above U+10FFFF; CPython rejects all of them.
    try:
        str(b"\xed\xa0\x80", "utf-8")
        return True
    except ValueError:
        return False


_LAX = _lax_decoder()
_NEVER = b"\xc0\xc1\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff"  # bytes that never appear
# Lead byte -> allowed range of the byte after it (RFC 3629 section 4, the UTF8-3/UTF8-4 rules).
_SECOND = ((0xE0, 0xA0, 0xBF), (0xED, 0x80, 0x9F), (0xF0, 0x90, 0xBF), (0xF4, 0x80, 0x8F))


def decode_utf8(buf):
    """``buf`` as ``str``; ValueError unless it is valid UTF-8 (RFC 3629)."""
    text = str(buf, "utf-8")  # structure check at C speed on both runtimes
    if _LAX and len(text) != len(buf):  # all-ASCII needs no more checks
        # Structure is right, so the remaining errors are fixed by a lead byte and its
        # successor; bytes.find runs in C, no per-byte Python loop.
        for b in _NEVER:
            if buf.find(bytes((b,))) >= 0:
                raise ValueError("invalid UTF-8")
        for lead, lo, hi in _SECOND:
            i = buf.find(bytes((lead,)))
            while i >= 0:
                nxt = buf[i + 1]
                if nxt < lo or nxt > hi:
                    raise ValueError("invalid UTF-8")
                i = buf.find(bytes((lead,)), i + 1)
    return text


# ---------------------------------------------------------------- frames (RFC 6455 section 5)

def unmask(buf, mask, start=0):
    """XOR ``buf[start:]`` in place with the 4-byte ``mask`` (section 5.3)."""
    mv = memoryview(buf)
    rep = int.from_bytes(bytes(mask) * (_UNMASK_BLOCK // 4), "big")
    end = len(buf)
    i = start
    while i < end:
        k = end - i
        m = rep
        if k >= _UNMASK_BLOCK:
            k = _UNMASK_BLOCK
        else:
            m = rep >> (8 * (_UNMASK_BLOCK - k))  # the first k bytes of the repeated mask
        buf[i:i + k] = (int.from_bytes(mv[i:i + k], "big") ^ m).to_bytes(k, "big")
        i += k


def encode_header(head, opcode, length, fin=True):
    """Write an unmasked frame header (servers never mask, section 5.1) into ``head``
    (at least 10 bytes); return its length."""
    head[0] = (0x80 if fin else 0) | opcode
    if length < 126:
        head[1] = length
        return 2
    if length < 65536:
        head[1] = 126
        head[2] = length >> 8
        head[3] = length & 0xFF
        return 4
    head[1] = 127
    head[2:10] = length.to_bytes(8, "big")
    return 10


_HEAD = 0
_EXT = 1
_PAYLOAD = 2


class FrameReader:
    """Sans-I/O frame parser. Loop: ``mv = r.buffer()``; read up to ``len(mv)`` bytes into it;
    ``event = r.received(n)``. Events are ``(opcode, payload)``: whole messages (``str`` for
    text, ``bytes`` for binary, fragments joined) and control frames (``bytes``). Raises
    ``ProtocolError`` with the close code to send."""

    def __init__(self, max_message=4096, require_mask=True):
        self.max_message = max_message
        self.require_mask = require_mask
        self._head = bytearray(14)
        self._hv = memoryview(self._head)
        self._parts = None  # fragments of the data message in progress
        self._msg_op = 0
        self._msg_len = 0
        self._reset()

    def _reset(self):
        self._state = _HEAD
        self._got = 0
        self._want = 2
        self._payload = None

    def buffer(self):
        if self._state == _PAYLOAD:
            return memoryview(self._payload)[self._got:]
        return self._hv[self._got:self._want]

    def received(self, n):
        self._got += n
        if self._state == _PAYLOAD:
            if self._got < len(self._payload):
                return None
            return self._frame_done()
        if self._got < self._want:
            return None
        if self._state == _HEAD:
            return self._parse_head()
        return self._parse_ext()

    def _parse_head(self):
        b0 = self._head[0]
        b1 = self._head[1]
        if b0 & 0x70:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "RSV bits set without an extension")  # 5.2
        op = b0 & 0x0F
        self._op = op
        self._fin = b0 & 0x80
        if op > OP_BINARY and op not in (OP_CLOSE, OP_PING, OP_PONG):
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved opcode")  # 5.2
        self._masked = b1 & 0x80
        if self.require_mask and not self._masked:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "client frame not masked")  # 5.1
        n = b1 & 0x7F
        if op >= OP_CLOSE:
            if not self._fin or n > 125:  # 5.5: control frames are short and never fragmented
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "bad control frame")
        elif op == OP_CONT:
            if self._parts is None:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "continuation without a message")  # 5.4
        elif self._parts is not None:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")  # 5.4
        extra = (2 if n == 126 else 8 if n == 127 else 0) + (4 if self._masked else 0)
        self._len7 = n
        if extra:
            self._state = _EXT
            self._want = 2 + extra
            return None
        return self._start_payload(n)

    def _parse_ext(self):
        h = self._head
        n = self._len7
        pos = 2
        if n == 126:
            n = (h[2] << 8) | h[3]
            pos = 4
        elif n == 127:
            if h[2] & 0x80:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "64-bit length with the top bit set")  # 5.2
            n = int.from_bytes(bytes(h[2:10]), "big")
            pos = 10
        self._mask = bytes(h[pos:pos + 4]) if self._masked else None
        return self._start_payload(n)

    def _start_payload(self, n):
        if self._op < OP_CLOSE:
            # Bound before allocating: the declared length is checked, then allocated exactly.
            if self._msg_len + n > self.max_message:
                raise ProtocolError(CLOSE_TOO_BIG, "message too big")  # 7.4.1
        self._payload = bytearray(n)
        self._state = _PAYLOAD
        self._got = 0
        if n == 0:
            return self._frame_done()
        return None

    def _frame_done(self):
        payload = self._payload
        if self._masked and payload:
            unmask(payload, self._mask)
        op = self._op
        fin = self._fin
        self._reset()
        if op >= OP_CLOSE:
            return (op, bytes(payload))
        if op != OP_CONT:
            self._msg_op = op
        if not fin:
            if self._parts is None:
                self._parts = []
            self._parts.append(payload)
            self._msg_len += len(payload)
            return None
        if self._parts is not None:
            self._parts.append(payload)
            payload = b"".join(self._parts)
            self._parts = None
        self._msg_len = 0
        if self._msg_op == OP_TEXT:
            try:
                return (OP_TEXT, decode_utf8(payload))
            except ValueError:
                raise ProtocolError(CLOSE_INVALID_DATA, "text message is not UTF-8")  # 8.1
        return (OP_BINARY, bytes(payload))


def parse_close(payload):
    """``(code, reason)`` from a close frame body (section 5.5.1); ProtocolError if invalid."""
    if not payload:
        return CLOSE_NO_STATUS, ""
    if len(payload) == 1:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "one-byte close payload")
    code = (payload[0] << 8) | payload[1]
    # 7.4.1/7.4.2: 1004-1006 and 1015 are reserved, below 1000 and 1016-2999 unassigned.
    if code < 1000 or 1004 <= code <= 1006 or 1015 <= code < 3000 or code >= 5000:
        raise ProtocolError(CLOSE_PROTOCOL_ERROR, "invalid close code")
    try:
        reason = decode_utf8(payload[2:])
    except ValueError:
        raise ProtocolError(CLOSE_INVALID_DATA, "close reason is not UTF-8")
    return code, reason


# ---------------------------------------------------------------- handshake (section 4.2)

def _has_token(value, token):
    # Connection / Upgrade are comma-separated, case-insensitive token lists (RFC 9110 7.6.1).
    for part in value.split(","):
        if part.strip().lower() == token:
            return True
    return False


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (section 4.2.2, step 5.4)."""
    return binascii.b2a_base64(sha1(key.encode() + _GUID)).strip().decode()


def check_handshake(request, protocols=None, origins=None):
    """``(accept, protocol)`` for a valid opening handshake, or an error Response."""
    from microhttp import Response  # the core; imported here so the codec stands alone

    h = request.headers
    if request.method != "GET":
        return Response("WebSocket handshake must use GET", 400)  # 4.2.1 item 1
    if not _has_token(h.get("Upgrade", ""), "websocket"):
        return Response("missing Upgrade: websocket", 400)  # 4.2.1 item 3
    if not _has_token(h.get("Connection", ""), "upgrade"):
        return Response("missing Connection: Upgrade", 400)  # 4.2.1 item 4
    version = h.get("Sec-WebSocket-Version")
    if version is None:
        return Response("missing Sec-WebSocket-Version", 400)
    if version.strip() != "13":
        # 4.2.2 / 4.4: answer 426 and list the versions we speak.
        return Response("unsupported WebSocket version", 426, {"Sec-WebSocket-Version": "13"})
    key = h.get("Sec-WebSocket-Key", "").strip()
    try:
        ok = len(key) == 24 and len(binascii.a2b_base64(key)) == 16  # 4.2.1 item 5
    except ValueError:
        ok = False
    if not ok:
        return Response("bad Sec-WebSocket-Key", 400)
    if origins is not None and h.get("Origin") not in origins:
        return Response("origin not allowed", 403)  # 4.2.2 item 4 / 10.2
    chosen = None
    if protocols:
        offered = h.get("Sec-WebSocket-Protocol", "")
        for p in offered.split(","):
            p = p.strip()
            if p in protocols:
                chosen = p
                break
    return accept_key(key), chosen


# ---------------------------------------------------------------- the connection

class WebSocket:
    """One server-side WebSocket connection; made by the ``websocket`` decorator."""

    def __init__(self, request, max_message=4096, ping_interval=None, ping_timeout=None, protocol=None):
        self.request = request
        self.protocol = protocol
        self._reader = request.reader
        self._writer = request.writer
        self._frames = FrameReader(max_message)
        self._head = bytearray(10)
        self._lock = asyncio.Lock()
        self.closed = False
        self.close_code = None
        self._close_sent = False
        self._ping_ms = int(ping_interval * 1000) if ping_interval else 0
        self._pong_ms = int((ping_timeout or ping_interval or 0) * 1000)
        self._last_rx = time.ticks_ms()
        self._reading = None  # the task blocked in receive(), cancelled on a dead peer
        self._aborted = False
        self._failed = False

    async def receive(self):
        """The next message: ``str`` (text) or ``bytes`` (binary). Raises ConnectionClosed."""
        while True:
            if self.closed:
                raise ConnectionClosed(self.close_code or CLOSE_ABNORMAL)
            op, payload = await self._next_frame()
            if op == OP_PING:
                await self._send_frame(OP_PONG, payload)  # 5.5.2: same application data
            elif op == OP_CLOSE:
                try:
                    code, reason = parse_close(payload)
                except ProtocolError as exc:
                    await self._fail(exc.code, exc.reason)
                    raise ConnectionClosed(exc.code, exc.reason)
                # 5.5.1: answer with a close frame echoing the code, then we are done.
                await self._send_close(CLOSE_NORMAL if code == CLOSE_NO_STATUS else code, "")
                self.closed = True
                self.close_code = code
                raise ConnectionClosed(code, reason)
            elif op != OP_PONG:
                return payload

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except ConnectionClosed:
            raise StopAsyncIteration

    async def _next_frame(self):
        frames = self._frames
        self._reading = asyncio.current_task()
        try:
            while True:
                mv = frames.buffer()
                n = await compat.readinto(self._reader, mv)
                if not n:
                    self.closed = True
                    self.close_code = CLOSE_ABNORMAL
                    raise ConnectionClosed(CLOSE_ABNORMAL, "connection lost")
                self._last_rx = time.ticks_ms()
                event = frames.received(n)
                if event is not None:
                    return event
        except ProtocolError as exc:
            await self._fail(exc.code, exc.reason)
            raise ConnectionClosed(exc.code, exc.reason)
        except asyncio.CancelledError:
            if self._aborted:
                raise ConnectionClosed(CLOSE_ABNORMAL, "no pong")
            raise
        except OSError:
            self.closed = True
            self.close_code = CLOSE_ABNORMAL
            raise ConnectionClosed(CLOSE_ABNORMAL, "connection lost")
        finally:
            self._reading = None

    async def _fail(self, code, reason):
        # 7.1.7 "Fail the WebSocket Connection": send a close frame, then drop the TCP connection.
        self.closed = True
        self.close_code = code
        self._failed = True
        try:
            await self._send_close(code, reason)
        except Exception:
            pass

    async def _discard_input(self):
        # After failing, read what the peer still sends (its close frame, the rest of a bad
        # frame) until it closes or goes quiet, bounded in bytes: closing a socket with unread
        # input makes the kernel send RST, which can destroy our close frame in flight.
        scratch = memoryview(bytearray(64))
        total = 0
        while total < 4096:
            try:
                n = await _wait_ms(compat.readinto(self._reader, scratch), _QUIET_MS)
            except Exception:  # quiet (timeout) or reset: either way we are done
                return
            if not n:
                return
            total += n

    async def send(self, data):
        """Send a text (``str``) or binary (``bytes``/``bytearray``) message."""
        if isinstance(data, str):
            await self._send_frame(OP_TEXT, data.encode())
        else:
            await self._send_frame(OP_BINARY, data)

    async def ping(self, data=b""):
        await self._send_frame(OP_PING, data)

    async def _send_frame(self, op, payload):
        if self.closed or self._close_sent:
            raise ConnectionClosed(self.close_code or CLOSE_ABNORMAL)
        await self._write(op, payload)

    async def _write(self, op, payload):
        async with self._lock:  # one frame at a time: a hub may send while the handler does
            try:
                n = encode_header(self._head, op, len(payload))
                if len(payload) <= _SMALL:
                    # One write, so one TCP segment on MicroPython (its write() sends at once).
                    compat.write(self._writer, bytes(self._head[:n]) + payload)
                else:
                    compat.write(self._writer, self._head[:n])
                    compat.write(self._writer, payload)
                await self._writer.drain()
            except OSError:
                self.closed = True
                self.close_code = CLOSE_ABNORMAL
                raise ConnectionClosed(CLOSE_ABNORMAL, "connection lost")

    async def _send_close(self, code, reason):
        if self._close_sent:
            return
        self._close_sent = True
        body = b""
        if code not in (CLOSE_NO_STATUS, CLOSE_ABNORMAL):
            body = bytes((code >> 8, code & 0xFF)) + reason.encode()[:123]
        await self._write(OP_CLOSE, body)

    async def close(self, code=CLOSE_NORMAL, reason=""):
        """Start the closing handshake (7.1.2) and wait briefly for the peer's close frame."""
        if self.closed:
            return
        try:
            await self._send_close(code, reason)
        except ConnectionClosed:
            return
        try:
            # Read (and drop) frames until the peer's close frame; bounded in time.
            await _wait_ms(self._await_close(), _CLOSE_WAIT_MS)
        except Exception:
            pass
        self.closed = True
        self.close_code = code

    async def _await_close(self):
        while True:
            op, _ = await self._next_frame()
            if op == OP_CLOSE:
                return

    def abort(self):
        """Drop the connection at once (no closing handshake); a blocked receive() raises."""
        self.closed = True
        self.close_code = self.close_code or CLOSE_ABNORMAL
        self._aborted = True
        task = self._reading
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _keepalive(self):
        # Dead-peer detection (5.5.2): ping when idle, give up when nothing arrives in time.
        while not self.closed:
            await compat.sleep_ms(self._ping_ms)
            if self.closed or time.ticks_diff(time.ticks_ms(), self._last_rx) < self._ping_ms:
                continue
            sent = time.ticks_ms()
            try:
                await self.ping(b"k")
            except ConnectionClosed:
                break
            await compat.sleep_ms(self._pong_ms)
            if time.ticks_diff(self._last_rx, sent) < 0:
                self.abort()
                break

    async def _run(self, handler, params):
        pinger = asyncio.create_task(self._keepalive()) if self._ping_ms else None
        try:
            await handler(self.request, self, **params)
            if not self.closed:
                await self.close(CLOSE_NORMAL)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            if not self._aborted:
                raise
        except Exception as exc:  # the app failed: 1011 (7.4.1), then let the server log it
            if not self.closed:
                await self._fail(CLOSE_INTERNAL_ERROR, "internal error")
            compat.print_exception(exc)
        finally:
            self.closed = True
            if pinger is not None:
                pinger.cancel()
        if self._failed:
            try:
                await _wait_ms(self._discard_input(), _CLOSE_WAIT_MS)
            except Exception:
                pass


if hasattr(asyncio, "wait_for_ms"):  # MicroPython
    def _wait_ms(coro, ms):
        return asyncio.wait_for_ms(coro, ms)
else:  # CPython's asyncio counts in seconds
    def _wait_ms(coro, ms):
        return asyncio.wait_for(coro, ms / 1000)


def websocket(max_message=4096, ping_interval=None, ping_timeout=None, protocols=None, origins=None):
    """Route decorator: validate the handshake, answer 101, then run ``handler(request, ws)``.

    ``max_message``: largest message in bytes (bigger: close 1009). ``ping_interval``: seconds
    of silence before the server pings; ``ping_timeout``: seconds to wait for any frame after
    that ping (default: ``ping_interval``). ``protocols``: subprotocols we accept;
    ``origins``: allowed Origin values (others get 403), None accepts any."""

    def decorator(handler):
        async def upgrade(request, **params):
            from microhttp import Response

            checked = check_handshake(request, protocols, origins)
            if not isinstance(checked, tuple):
                return checked
            accept, protocol = checked
            headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept}
            if protocol:
                headers["Sec-WebSocket-Protocol"] = protocol
            response = Response(None, 101, headers)  # no body: the frames follow the head

            async def takeover(req):
                ws = WebSocket(req, max_message, ping_interval, ping_timeout, protocol)
                await ws._run(handler, params)

            response.takeover = takeover
            return response

        return upgrade

    return decorator


# ---------------------------------------------------------------- broadcast hub

class Hub:
    """A set of live WebSockets that can all be sent one message.

    ``hub.add(ws)`` / ``hub.discard(ws)``; ``await hub.serve(ws, on_message=None)`` joins and
    reads until the client leaves; ``await hub.broadcast(msg)`` returns how many got it;
    ``hub.publish(msg)`` schedules a broadcast from synchronous code. A client that is closed,
    fails, or does not take a message within ``send_timeout`` seconds is dropped; errors never
    reach the caller. ``max_clients`` bounds the set (``add`` returns False when full)."""

    def __init__(self, max_clients=8, send_timeout=5, max_pending=4):
        self.max_clients = max_clients
        self.send_timeout = send_timeout
        self.max_pending = max_pending
        self._clients = []
        self._tasks = []  # publish() broadcasts in flight, kept so none is collected early

    def __len__(self):
        return len(self._clients)

    def add(self, ws):
        if ws in self._clients:
            return True
        if len(self._clients) >= self.max_clients or ws.closed:
            return False
        self._clients.append(ws)
        return True

    def discard(self, ws):
        if ws in self._clients:
            self._clients.remove(ws)

    async def serve(self, ws, on_message=None):
        """Join, then read until the client leaves; ``await on_message(ws, msg)`` per message.
        A full hub closes the new connection with 1008 (policy)."""
        if not self.add(ws):
            await ws.close(CLOSE_POLICY, "too many clients")
            return
        try:
            while True:
                msg = await ws.receive()
                if on_message is not None:
                    await on_message(ws, msg)
        except ConnectionClosed:
            pass
        finally:
            self.discard(ws)

    async def broadcast(self, data):
        """Send ``data`` (str or bytes) to every live client; return the number reached."""
        op = OP_TEXT if isinstance(data, str) else OP_BINARY
        payload = data.encode() if op == OP_TEXT else data  # encoded once for all clients
        sent = 0
        for ws in list(self._clients):
            if ws.closed:
                self.discard(ws)
                continue
            try:
                await asyncio.wait_for(ws._send_frame(op, payload), self.send_timeout)
                sent += 1
            except Exception:  # dead, reset or too slow: drop it, never raise into the app
                self.discard(ws)
                ws.abort()
        return sent

    def publish(self, data):
        """Schedule ``broadcast(data)``; False (dropped) when ``max_pending`` are queued."""
        if len(self._tasks) >= self.max_pending:
            return False
        self._tasks.append(asyncio.create_task(self._publish(data)))
        return True

    async def _publish(self, data):
        try:
            await self.broadcast(data)
        finally:
            self._tasks.remove(asyncio.current_task())
