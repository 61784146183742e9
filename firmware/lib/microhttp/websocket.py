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
(with ``.code``) when the peer closes or fails. ``ws.send(str | bytes)``,
``ws.close(code, reason)``, ``async for msg in ws``. Fragmented messages are reassembled (up to ``max_message`` bytes,
else close 1009); pings are answered; text is UTF-8 validated (else 1007); protocol errors
close with 1002; an exception escaping the handler closes with 1011. With ``ping_interval``
the server pings an idle peer and drops it when no frame arrives within ``ping_timeout``;
this needs someone reading (``receive()`` or ``hub.serve()``), as a dead TCP peer can only be
told from a quiet one by an unanswered ping. ``Hub`` is a bounded set of live clients: one that
is closed, fails, or does not take a message within ``send_timeout`` seconds is dropped (and
its connection aborted), and no error ever reaches the caller, so a phone that left without a
close frame cannot break a broadcast.

Frames are parsed by ``FrameReader``, a sans-I/O pull parser: it hands out the exact region
(``buffer()``) the next bytes must be read into, so the header goes into a 14-byte buffer and a
payload straight into a buffer allocated only after its length passed the size check.
Opcodes (section 5.2) and close codes (section 7.4.1) are plain numbers, e.g. 1 text, 2
binary, 8 close, 9 ping, 10 pong; 1000 normal, 1002 protocol error, 1009 too big.
"""

import asyncio
import binascii
import time

from micropython import const

from microhttp import compat

_CONT = const(0)
_TEXT = const(1)
_BINARY = const(2)
_CLOSE = const(8)
_PING = const(9)
_PONG = const(10)
_NORMAL = const(1000)
_PROTOCOL = const(1002)
_NO_STATUS = const(1005)  # never sent on the wire (7.4.1)
_ABNORMAL = const(1006)  # never sent on the wire: the TCP connection just ended
_INVALID = const(1007)
_TOO_BIG = const(1009)
_INTERNAL = const(1011)

_UNMASK_BLOCK = const(128)  # bytes XORed per big-int step: C speed, small bounded temporaries
_CLOSE_WAIT_MS = const(2000)  # how long close() waits for the peer's close frame (7.1.1)
_QUIET_MS = const(200)  # after failing: input silence that ends the wait for the peer's close
_SMALL = const(256)  # payloads up to this size are sent in one write with their header


class ConnectionClosed(Exception):
    """The WebSocket is closed; ``code`` is the peer's close code or 1006 (no close frame)."""

    def __init__(self, code=_ABNORMAL, reason=""):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class ProtocolError(ConnectionClosed):
    """The peer broke RFC 6455; ``code`` is the close code to send."""


# ---------------------------------------------------------------- UTF-8 (RFC 3629 section 4)

try:
    # MicroPython's str() checks UTF-8 structure (lead byte + continuation count) but accepts
    # overlong forms, surrogates and code points above U+10FFFF; CPython rejects them all.
    str(b"\xed\xa0\x80", "utf-8")
    _LAX = True
except ValueError:
    _LAX = False
# Lead byte, then the allowed range of the byte after it (RFC 3629 section 4, UTF8-3/UTF8-4);
# C0, C1 and F5-FF never appear (range 1..0 is empty).
_SECOND = b"\xe0\xa0\xbf\xed\x80\x9f\xf0\x90\xbf\xf4\x80\x8f\xc0\x01\x00\xc1\x01\x00" \
    b"\xf5\x01\x00\xf6\x01\x00\xf7\x01\x00\xf8\x01\x00\xf9\x01\x00\xfa\x01\x00\xfb\x01\x00" \
    b"\xfc\x01\x00\xfd\x01\x00\xfe\x01\x00\xff\x01\x00"


def decode_utf8(data):
    """``data`` as ``str``; ValueError unless it is valid UTF-8 (RFC 3629)."""
    text = str(data, "utf-8")  # structure check at C speed on both runtimes
    if _LAX and len(text) != len(data):  # all-ASCII needs no more checks
        # Structure is right, so the remaining errors are fixed by a lead byte and its
        # successor; bytes.find runs in C, no per-byte Python loop.
        length = len(data)
        for entry in range(0, len(_SECOND), 3):
            lead = _SECOND[entry:entry + 1]
            at = data.find(lead)
            while at >= 0:
                following = data[at + 1] if at + 1 < length else 0
                if following < _SECOND[entry + 1] or following > _SECOND[entry + 2]:
                    raise ValueError("invalid UTF-8")
                at = data.find(lead, at + 1)
    return text


# ---------------------------------------------------------------- frames (RFC 6455 section 5)

def unmask(payload, mask):
    """XOR ``payload`` in place with the 4-byte ``mask`` (section 5.3)."""
    view = memoryview(payload)
    repeated = int.from_bytes(mask * (_UNMASK_BLOCK // 4), "big")
    end = len(payload)
    at = 0
    while at < end:
        step = min(_UNMASK_BLOCK, end - at)
        step_mask = repeated >> (8 * (_UNMASK_BLOCK - step))  # the repeated mask's first step bytes
        payload[at:at + step] = (int.from_bytes(view[at:at + step], "big") ^ step_mask).to_bytes(step, "big")
        at += step


def encode_header(head, opcode, length, fin=True):
    """Write an unmasked frame header (servers never mask, section 5.1) into ``head``
    (at least 10 bytes); return its length."""
    head[0] = (0x80 if fin else 0) | opcode
    if length < 126:
        head[1] = length
        return 2
    if length < 65536:
        head[1] = 126
        head[2:4] = length.to_bytes(2, "big")
        return 4
    head[1] = 127
    head[2:10] = length.to_bytes(8, "big")
    return 10


class FrameReader:
    """Sans-I/O frame parser. Loop: ``region = reader.buffer()``; read up to ``len(region)``
    bytes into it; ``event = reader.received(count)``. Events are ``(opcode, payload)``: whole messages (``str`` for
    text, ``bytes`` for binary, fragments joined) and control frames (``bytes``). Raises
    ``ProtocolError`` with the close code to send."""

    def __init__(self, max_message=4096):
        self.max_message = max_message
        self._head = bytearray(14)
        self._parts = None  # fragments of the data message in progress
        self._message_opcode = self._message_length = 0
        self._payload = None  # None: reading a header; else the payload being filled
        self._got = 0
        self._want = 2

    def buffer(self):
        if self._payload is not None:
            return memoryview(self._payload)[self._got:]
        return memoryview(self._head)[self._got:self._want]

    def received(self, count):
        self._got += count
        payload = self._payload
        if payload is not None:
            return self._frame_done() if self._got == len(payload) else None
        if self._got < self._want:
            return None
        head = self._head
        first = head[0]
        opcode = first & 0x0F
        length = head[1] & 0x7F
        if self._want == 2:
            # Section 5.2: no extension was negotiated, so RSV1-3 must be 0; opcodes 3-7 and
            # 11-15 are reserved. Section 5.1: every client frame is masked.
            if first & 0x70 or 2 < opcode < 8 or opcode > 10 or not head[1] & 0x80:
                raise ProtocolError(_PROTOCOL, "bad frame header")
            if opcode >= _CLOSE:
                if not first & 0x80 or length > 125:  # 5.5: control frames are short, unfragmented
                    raise ProtocolError(_PROTOCOL, "bad control frame")
            elif (opcode == _CONT) != (self._parts is not None):  # 5.4: fragments in sequence
                raise ProtocolError(_PROTOCOL, "bad fragment")
            self._want = 6 if length < 126 else 8 if length == 126 else 14  # + extended length + mask
            return None
        if length == 126:
            length = int.from_bytes(head[2:4], "big")
        elif length == 127:
            length = int.from_bytes(head[2:10], "big")  # 5.2: the most significant bit must be 0
            if length >> 63:
                raise ProtocolError(_PROTOCOL, "bad length")
        # Bound before allocating: the declared length is checked, then allocated exactly.
        if opcode < _CLOSE and self._message_length + length > self.max_message:
            raise ProtocolError(_TOO_BIG, "message too big")
        self._payload = bytearray(length)
        self._got = 0
        return self._frame_done() if length == 0 else None

    def _frame_done(self):
        payload = self._payload or bytearray()
        head = self._head
        if payload:
            unmask(payload, bytes(head[self._want - 4:self._want]))
        opcode = head[0] & 0x0F
        fin = head[0] & 0x80
        self._payload = None
        self._got = 0
        self._want = 2
        if opcode >= _CLOSE:
            return (opcode, bytes(payload))
        if opcode != _CONT:
            self._message_opcode = opcode
        if not fin:
            if self._parts is None:
                self._parts = []
            self._parts.append(payload)
            self._message_length += len(payload)
            return None
        if self._parts is not None:
            self._parts.append(payload)
            payload = b"".join(self._parts)
            self._parts = None
        self._message_length = 0
        if self._message_opcode == _TEXT:
            try:
                return (_TEXT, decode_utf8(payload))
            except ValueError:
                raise ProtocolError(_INVALID, "invalid UTF-8")  # 8.1
        return (_BINARY, bytes(payload))


def parse_close(payload):
    """``(code, reason)`` from a close frame body (section 5.5.1); ProtocolError if invalid."""
    if not payload:
        return _NO_STATUS, ""
    code = int.from_bytes(payload[:2], "big")
    # 7.4.1/7.4.2: 1004-1006 and 1015 are reserved, below 1000 and 1016-2999 unassigned.
    if len(payload) == 1 or code < 1000 or 1004 <= code <= 1006 or 1015 <= code < 3000 or code >= 5000:
        raise ProtocolError(_PROTOCOL, "bad close")
    try:
        return code, decode_utf8(payload[2:])
    except ValueError:
        raise ProtocolError(_INVALID, "invalid UTF-8")


# ---------------------------------------------------------------- handshake (section 4.2)

def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (section 4.2.2, step 5.4)."""
    data = key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    try:
        from hashlib import sha1

        digest = sha1(data).digest()
    except ImportError:  # a port without hashlib.sha1 (the unix port): the pure-Python one
        from microhttp.sha1 import sha1 as pure_sha1

        digest = pure_sha1(data)
    return binascii.b2a_base64(digest).strip().decode()


def check_handshake(request, protocols=None, origins=None):
    """``(accept, protocol)`` for a valid opening handshake, else ``(status, message)``."""
    headers = request.headers
    key = headers.get("Sec-WebSocket-Key", "").strip()
    try:
        good_key = len(key) == 24 and len(binascii.a2b_base64(key)) == 16  # 4.2.1 item 5
    except ValueError:
        good_key = False
    version = headers.get("Sec-WebSocket-Version")
    # 4.2.1: GET, Upgrade: websocket, Connection: Upgrade, a 16-byte key, a version.
    # Connection and Upgrade are comma-separated, case-insensitive lists (RFC 9110 7.6.1).
    upgrade = [token.strip().lower()
               for token in (headers.get("Upgrade", "") + "," + headers.get("Connection", "")).split(",")]
    if request.method != "GET" or "websocket" not in upgrade or "upgrade" not in upgrade or \
            not good_key or version is None:
        return 400, "bad WebSocket handshake"
    if version.strip() != "13":
        return 426, "unsupported WebSocket version"  # 4.2.2 / 4.4
    if origins is not None and headers.get("Origin") not in origins:
        return 403, "origin not allowed"  # 10.2
    chosen = None
    for offered in headers.get("Sec-WebSocket-Protocol", "").split(","):
        if protocols and offered.strip() in protocols:
            chosen = offered.strip()
            break
    return accept_key(key), chosen


# ---------------------------------------------------------------- the connection

class WebSocket:
    """One server-side WebSocket connection; made by the ``websocket`` decorator."""

    def __init__(self, request, max_message=4096, ping_interval=None, ping_timeout=None, protocol=None):
        self.request = request
        self.protocol = protocol
        self._frames = FrameReader(max_message)
        self._head = bytearray(10)
        self._lock = asyncio.Lock()
        self.closed = False
        self.close_code = None
        self._close_sent = False
        self._ping_ms = int(ping_interval * 1000) if ping_interval else 0
        self._pong_ms = int((ping_timeout or ping_interval or 0) * 1000)
        self._last_received = time.ticks_ms()
        self._reading = None  # the task blocked in receive(), cancelled on a dead peer
        self._aborted = self._failed = False

    async def receive(self):
        """The next message: ``str`` (text) or ``bytes`` (binary). Raises ConnectionClosed."""
        while True:
            if self.closed:
                raise ConnectionClosed(self.close_code or _ABNORMAL)
            opcode, payload = await self._next_frame()
            if opcode == _PING:
                await self._write(_PONG, payload)  # 5.5.2: same application data
            elif opcode == _CLOSE:
                try:
                    code, reason = parse_close(payload)
                except ProtocolError as exc:
                    await self._fail(exc.code, exc.reason)
                    raise ConnectionClosed(exc.code, exc.reason)
                # 5.5.1: answer with a close frame echoing the code, then we are done.
                await self._send_close(_NORMAL if code == _NO_STATUS else code, "")
                self.closed = True
                self.close_code = code
                raise ConnectionClosed(code, reason)
            elif opcode != _PONG:
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
                count = await compat.readinto(self.request.reader, frames.buffer())
                if not count:
                    raise OSError(0)
                self._last_received = time.ticks_ms()
                event = frames.received(count)
                if event is not None:
                    return event
        except ProtocolError as exc:
            await self._fail(exc.code, exc.reason)
            raise ConnectionClosed(exc.code, exc.reason)
        except asyncio.CancelledError:
            if self._aborted:
                raise ConnectionClosed(_ABNORMAL, "no pong")
            raise
        except OSError:  # reset, or the peer closed TCP without a close frame
            self.closed = True
            self.close_code = _ABNORMAL
            raise ConnectionClosed(_ABNORMAL, "connection lost")
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

    async def _linger(self, quiet_ms):
        # Read what the peer still sends until it closes or goes quiet for ``quiet_ms``, bounded in
        # bytes. After failing, the input is skipped raw (it may be the rest of a bad frame):
        # closing a socket with unread input makes the kernel send RST, which can destroy our
        # close frame in flight. After our own close (7.1.2) frames are parsed up to the peer's
        # close frame, and data frames in between are dropped.
        scratch = memoryview(bytearray(64))
        for _ in range(64):
            try:
                if self._failed:
                    if not await compat.wait_for_ms(compat.readinto(self.request.reader, scratch), quiet_ms):
                        return
                elif (await compat.wait_for_ms(self._next_frame(), quiet_ms))[0] == _CLOSE:
                    return
            except Exception:  # quiet (timeout), reset, or the connection closed
                return

    async def send(self, data):
        """Send a text (``str``) or binary (``bytes``/``bytearray``) message."""
        if isinstance(data, str):
            await self._write(_TEXT, data.encode())
        else:
            await self._write(_BINARY, data)

    async def _write(self, opcode, payload, closing=False):
        if (self.closed or self._close_sent) and not closing:
            raise ConnectionClosed(self.close_code or _ABNORMAL)
        writer = self.request.writer
        # One sender at a time (a hub and the handler may both send): MicroPython's drain()
        # flushes a snapshot of the stream's pending output and then empties it, so a write
        # made by another task while a drain waits on a full socket would be lost.
        # acquire()/release() rather than "async with": two coroutine frames less per message.
        await self._lock.acquire()
        try:
            head_length = encode_header(self._head, opcode, len(payload))
            if len(payload) <= _SMALL:
                # One write, so one TCP segment on MicroPython (its write() sends at once).
                compat.write(writer, bytes(self._head[:head_length]) + payload)
            else:
                compat.write(writer, self._head[:head_length])
                compat.write(writer, payload)
            await writer.drain()
        except OSError:
            self.closed = True
            self.close_code = _ABNORMAL
            raise ConnectionClosed(_ABNORMAL, "connection lost")
        finally:
            self._lock.release()

    async def _send_close(self, code, reason):
        if not self._close_sent:
            self._close_sent = True
            await self._write(_CLOSE, code.to_bytes(2, "big") + reason.encode()[:123], True)

    async def close(self, code=_NORMAL, reason=""):
        """Start the closing handshake (7.1.2) and wait briefly for the peer's close frame."""
        if self.closed:
            return
        try:
            await self._send_close(code, reason)
        except ConnectionClosed:
            pass
        await self._linger(_CLOSE_WAIT_MS)
        self.closed = True
        self.close_code = code

    def abort(self):
        """Drop the connection at once (no closing handshake); a blocked receive() raises."""
        self.closed = self._aborted = True
        self.close_code = self.close_code or _ABNORMAL
        task = self._reading
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _keepalive(self):
        # Dead-peer detection (5.5.2): ping when idle, give up when nothing arrives in time.
        while not self.closed:
            await compat.sleep_ms(self._ping_ms)
            if self.closed or time.ticks_diff(time.ticks_ms(), self._last_received) < self._ping_ms:
                continue
            sent = time.ticks_ms()
            try:
                await self._write(_PING, b"k")
            except ConnectionClosed:
                break
            await compat.sleep_ms(self._pong_ms)
            if time.ticks_diff(self._last_received, sent) < 0:
                self.abort()
                break

    async def _run(self, handler, params):
        pinger = asyncio.create_task(self._keepalive()) if self._ping_ms else None
        try:
            await handler(self.request, self, **params)
            if not self.closed:
                await self.close()
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            if not self._aborted:
                raise
        except Exception as exc:  # the app failed: 1011 (7.4.1), and the traceback is printed
            if not self.closed:
                await self._fail(_INTERNAL, "internal error")
            compat.print_exception(exc)
        finally:
            self.closed = True
            if pinger is not None:
                pinger.cancel()
        if self._failed:
            await self._linger(_QUIET_MS)


def websocket(max_message=4096, ping_interval=None, ping_timeout=None, protocols=None, origins=None):
    """Route decorator: validate the handshake, answer 101, then run ``handler(request, ws)``.

    ``max_message``: largest message in bytes (bigger: close 1009). ``ping_interval``: seconds
    of silence before the server pings; ``ping_timeout``: seconds to wait for any frame after
    that ping (default: ``ping_interval``). ``protocols``: subprotocols we accept;
    ``origins``: allowed Origin values (others get 403), None accepts any."""

    def decorator(handler):
        async def upgrade(request, **params):
            from microhttp.response import Response

            accept, protocol = check_handshake(request, protocols, origins)
            if isinstance(accept, int):
                # 4.4: a 426 lists the versions we speak.
                return Response(protocol, accept, {"Sec-WebSocket-Version": "13"} if accept == 426 else None)
            headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept}
            if protocol:
                headers["Sec-WebSocket-Protocol"] = protocol
            response = Response(None, 101, headers)  # no body: the frames follow the head

            async def takeover(request):
                await WebSocket(request, max_message, ping_interval, ping_timeout, protocol)._run(handler, params)

            response.takeover = takeover
            return response

        return upgrade

    return decorator


# ---------------------------------------------------------------- the hub


class Hub:
    """A bounded set of live WebSockets that can all be sent one message."""

    def __init__(self, max_clients=8, send_timeout=5, max_pending=4):
        self.max_clients = max_clients
        self.send_timeout = send_timeout
        self.max_pending = max_pending
        self._clients = []
        self._tasks = []  # publish() broadcasts in flight, kept so none is collected early

    def __len__(self):
        return len(self._clients)

    def add(self, ws):
        """Join ``ws``; False when the hub is full or ``ws`` is closed."""
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
        """Join, then read until the client leaves; ``await on_message(ws, message)`` per message.
        A full hub closes the new connection with 1008 (policy, RFC 6455 7.4.1)."""
        if not self.add(ws):
            await ws.close(1008, "too many clients")
            return
        try:
            while True:
                message = await ws.receive()
                if on_message is not None:
                    await on_message(ws, message)
        except ConnectionClosed:
            pass
        finally:
            self.discard(ws)

    async def broadcast(self, data):
        """Send ``data`` (str or bytes) to every live client; return the number reached."""
        text = isinstance(data, str)
        payload = data.encode() if text else data  # encoded once for all clients
        sent = 0
        for ws in list(self._clients):
            if ws.closed:
                self.discard(ws)
                continue
            try:
                await compat.wait_for_ms(ws._write(1 if text else 2, payload), int(self.send_timeout * 1000))
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
