# microhttp.server: the asyncio loop around the sans-I/O parser.
#
# One task per connection runs: readinto the parser's buffer -> next() -> dispatch -> write.
# Persistence follows RFC 9112 section 9.3 (HTTP/1.1 keeps alive unless "close"; HTTP/1.0
# only when it asks); pipelined requests are answered in order because one task reads and
# answers them one after another. Timeouts cost nothing per read: each connection records a
# deadline and one reaper task cancels connections whose deadline has passed (idle: closed
# silently, RFC 9112 section 9.5; head or body: 408 then close; write: close). Buffers (the
# parser's read buffer and an output buffer) are pooled, so a kept-alive connection and the
# next connection reuse them instead of growing the heap.
import asyncio
import gc

from microhttp import compat, h1
from microhttp.compat import ticks_add, ticks_diff, ticks_ms
from microhttp.request import Request
from microhttp.response import Response

_R = {101: b"Switching Protocols", 200: b"OK", 201: b"Created", 204: b"No Content", 206: b"Partial Content",
      301: b"Moved Permanently", 302: b"Found", 303: b"See Other", 304: b"Not Modified",
      307: b"Temporary Redirect", 400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden",
      404: b"Not Found", 405: b"Method Not Allowed", 408: b"Request Timeout",
      413: b"Content Too Large", 414: b"URI Too Long", 416: b"Range Not Satisfiable",
      431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
      501: b"Not Implemented", 503: b"Service Unavailable", 505: b"HTTP Version Not Supported"}
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_OOM = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_FAIL = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_SKIP = ("content-length", "transfer-encoding", "connection")
# Connection phases, for the reaper: what an expired deadline means.
_IDLE = 0  # between requests: close silently
_HEAD = 1  # reading a head: 408
_BODY = 2  # reading a body: 408
_WRITE = 3  # writing a response to a client that does not read: close
_RUN = 4  # in the handler: no deadline


class Server:
    """A running microhttp server; ``App.start()`` makes one. Limits (keyword arguments):

    :param max_conns: concurrent connections (8); over it an idle kept-alive connection is
        closed to make room, else the new one gets 503 with Retry-After
    :param idle_timeout: seconds a kept-alive connection may wait for its next request (30)
    :param head_timeout: seconds from a request's first byte to its complete head (10)
    :param body_timeout: seconds any one body read (or response write) may take (10)
    :param out_size: bytes of each connection's output buffer (1024)
    :param backlog: listen backlog (4)
    Parser limits (see microhttp.h1.Parser): max_head (2048), max_line (1024), max_headers
    (32), max_chunk_line (128), max_trailer (1024). Body size: App(max_body=...).
    """

    def __init__(self, app, max_conns=8, idle_timeout=30, head_timeout=10, body_timeout=10,
                 out_size=1024, backlog=4, **limits):
        h1.Parser(**limits)  # reject unknown limits now, not at the first connection
        self.app = app
        self.max_conns = max_conns
        self.ms = (int(idle_timeout * 1000), int(head_timeout * 1000), int(body_timeout * 1000),
                   int(body_timeout * 1000))
        self.out_size = out_size
        self.backlog = backlog
        self.limits = limits
        self.conns = []
        self.pool = []
        self.closing = False
        self._done = asyncio.Event()

    async def start(self, host, port):
        self._l = await compat.listen(self._accept, host, port, self.backlog)
        self._reaper = asyncio.create_task(self._reap())
        return self

    async def _reap(self):
        # Wake often enough that a deadline is late by at most a quarter of the shortest one.
        tick = max(10, min(self.ms) // 4)
        while True:
            await compat.sleep_ms(tick)
            now = ticks_ms()
            for c in self.conns:
                if c.dl is not None and ticks_diff(now, c.dl) >= 0:
                    c.dl = None
                    c.expired = True
                    c.task.cancel()

    async def close(self, timeout=5):
        """Stop accepting, close idle connections, let in-flight requests finish (closing
        their connections afterwards), then cancel whatever is left after ``timeout`` s."""
        if self.closing:
            return
        self.closing = True
        self._l.close()
        for c in self.conns:
            if c.phase == _IDLE and not c.p.buffered():
                c.task.cancel()
        t = ticks_add(ticks_ms(), int(timeout * 1000))
        while self.conns and ticks_diff(t, ticks_ms()) > 0:
            await compat.sleep_ms(10)
        for c in self.conns:
            c.task.cancel()
        while self.conns:
            await compat.sleep_ms(10)
        self._reaper.cancel()
        self._done.set()

    async def wait_closed(self):
        await self._done.wait()

    async def _accept(self, r, w):
        if len(self.conns) >= self.max_conns:
            # A phone opens several connections and leaves them idle: reclaim one of those.
            for c in self.conns:
                if c.phase == _IDLE and not c.p.buffered() and not c.expired:
                    c.expired = True
                    c.task.cancel()
                    break
            else:
                try:
                    w.write(_BUSY)
                    await w.drain()
                except Exception:
                    pass
                await compat.close(w)
                return
        c = None
        try:
            c = Conn(self, r, w)
            self.conns.append(c)
            await c.run()
        except asyncio.CancelledError:
            if c and c.expired and not c.sent and c.phase in (_HEAD, _BODY):
                await _canned(w, _TIMEOUT)
        except MemoryError:
            # Free what this request held, then try to say so; the server keeps serving.
            if c:
                c.p = c.out = None
            gc.collect()
            if not (c and c.sent):
                await _canned(w, _OOM)
        except OSError as e:
            if not compat.gone(e):
                _log("connection", e)
        except Exception as e:
            _log("connection", e)
            if not (c and c.sent):
                await _canned(w, _FAIL)
        finally:
            if c:
                if c in self.conns:
                    self.conns.remove(c)
                if c.p and len(self.pool) < self.max_conns:
                    c.p.reset()
                    self.pool.append((c.p, c.out))
            await compat.close(w)


async def _canned(w, b):
    try:
        w.write(b)
        await w.drain()
    except Exception:
        pass


def _log(m, e):
    from microhttp.log import logger

    logger.exception(m, e)


class Conn:
    """One client connection: its parser, output buffer, deadline and task."""

    def __init__(self, srv, r, w):
        self.srv = srv
        self.r = r
        self.w = w
        self.addr = compat.peer(w)
        self.dl = None
        self.expired = self.sent = self.cont = self.done = False
        self.phase = _IDLE
        self.task = asyncio.current_task()
        if srv.pool:
            self.p, self.out = srv.pool.pop()
        else:
            self.p = h1.Parser(**srv.limits)
            self.out = bytearray(srv.out_size)
        compat.nodelay(w)

    def _phase(self, ph):
        self.phase = ph
        self.dl = ticks_add(ticks_ms(), self.srv.ms[ph]) if ph < _RUN else None

    async def fill(self, ph):
        """Read more bytes into the parser; False at end of stream."""
        if ph == _BODY:
            if self.cont:
                self.cont = False
                await self._write(_CONTINUE)  # RFC 9110 section 10.1.1
            self._phase(_BODY)
        n = await compat.readinto(self.r, self.p.space())
        if ph == _BODY:
            self._phase(_RUN)
        if not n:
            return False
        self.p.feed(n)
        return True

    async def _write(self, b):
        ph = self.phase
        self._phase(_WRITE)
        compat.write(self.w, b)
        await self.w.drain()
        self._phase(ph)

    async def run(self):
        srv, p = self.srv, self.p
        while True:
            self.sent = False
            self._phase(_IDLE)
            try:
                ev = p.next()
                while ev == 0:  # h1.NEED
                    if self.phase == _IDLE and p.buffered():
                        self._phase(_HEAD)  # the head deadline runs from the first byte
                    if not await self.fill(_HEAD):
                        return
                    ev = p.next()
                self._phase(_RUN)
                req = Request(srv.app, self, p)
            except h1.HTTPError as e:
                await self.send(None, Response.json({"error": e.message}, e.status), False)
                return
            p.max_body = srv.app.max_body
            self.cont = p.version == 11 and p.headers.get("expect", "").lower() == "100-continue"
            self.done = False
            if p.length == 0:
                p.next()  # END of an empty body
                self.done = True
            resp = await srv.app.dispatch(req)
            keep = p.keep_alive and not srv.closing and self._skip()
            if not await self.send(req, resp, keep):
                return

    def _skip(self):
        # The handler did not read the whole body: discard it if it is already buffered,
        # otherwise close (reading an unwanted upload would only waste the slot).
        try:
            while not self.done:
                ev = self.p.next()
                if ev == 3:
                    self.done = True
                elif ev == 0:
                    return False
        except h1.HTTPError:
            return False
        return True

    async def send(self, req, resp, keep):
        """Write ``resp``; returns whether the connection stays open."""
        st, h, b = resp.status, resp.headers, resp.body
        head = req is not None and req.method == "HEAD"
        v10 = req is not None and req.version == 10
        if h.get("connection", "").lower() == "close":
            keep = False
        n = None  # Content-Length to send; -1: chunked; None: no framing field
        if resp.takeover:
            keep = False
            b = None
        elif st < 200 or st == 204 or st == 304:
            b = None
        elif isinstance(b, str):
            b = b.encode()
        if b is None:
            pass
        elif isinstance(b, (bytes, bytearray, memoryview)):
            n = len(b)
        elif hasattr(b, "readinto"):
            n = h.get("content-length")
            if n is None:
                try:
                    b.seek(0, 2)
                    n = b.tell()
                    b.seek(0)
                except Exception:
                    n = None
            else:
                n = int(n)
        if n is None and b is not None:
            if v10:
                keep = False  # HTTP/1.0 has no chunked coding: the close ends the body
            else:
                n = -1
        o = self.out
        k = _put(o, 0, b"HTTP/1.1 %d %s\r\n" % (st, _R.get(st, b"")))
        for x in h:
            if resp.takeover or x not in _SKIP:
                k = _put(o, k, "%s: %s\r\n" % (x, h[x]))
        if n and n > 0 and "content-type" not in h:
            k = _put(o, k, b"content-type: text/plain; charset=utf-8\r\n")
        if n is not None:
            k = _put(o, k, b"transfer-encoding: chunked\r\n" if n < 0 else b"content-length: %d\r\n" % n)
        if not resp.takeover:
            k = _put(o, k, b"connection: keep-alive\r\n" if keep and v10 else
                     b"connection: close\r\n" if not keep else b"")
        for c in resp.cookies or ():
            k = _put(o, k, "set-cookie: %s\r\n" % c)
        k = _put(o, k, b"\r\n")
        mv = memoryview(o)
        self.sent = True
        try:
            if head or b is None:
                await self._write(mv[:k])
            elif n is not None and n >= 0 and not hasattr(b, "readinto"):
                # Head and a small body in one write: no Nagle/delayed-ACK stall.
                if n <= len(o) - k:
                    o[k:k + n] = b
                    await self._write(mv[:k + n])
                else:
                    await self._write(mv[:k])
                    await self._write(b)
            elif hasattr(b, "readinto"):
                # Files stream through the output buffer; the first piece rides with the head.
                while True:
                    m = b.readinto(mv[k:])
                    if not m and not k:
                        break
                    await self._write(mv[:k + (m or 0)])
                    k = 0
                    if not m:
                        break
            else:
                await self._write(mv[:k])
                await self._chunks(b, n is not None)
        finally:
            if hasattr(b, "close"):
                b.close()
        if resp.takeover:
            self._phase(_RUN)
            await resp.takeover(req)
        return keep

    async def _chunks(self, b, chunked):
        # RFC 9112 section 7.1: each chunk is its size in hex, CRLF, the data, CRLF.
        if hasattr(b, "__anext__"):
            while True:
                try:
                    x = await b.__anext__()
                except StopAsyncIteration:
                    break
                await self._chunk(x, chunked)
        else:
            for x in b:
                await self._chunk(x, chunked)
        if chunked:
            await self._write(b"0\r\n\r\n")

    async def _chunk(self, x, chunked):
        if isinstance(x, str):
            x = x.encode()
        if not x:
            return
        if not chunked:
            return await self._write(x)
        o = self.out
        k = _put(o, 0, b"%x\r\n" % len(x))
        if k + len(x) + 2 <= len(o):
            o[k:k + len(x)] = x
            o[k + len(x):k + len(x) + 2] = b"\r\n"
            await self._write(memoryview(o)[:k + len(x) + 2])
        else:
            await self._write(memoryview(o)[:k])
            await self._write(x)
            await self._write(b"\r\n")


def _put(o, k, x):
    # Copy into the output buffer; a head too large for it grows it (rare: huge headers).
    if isinstance(x, str):
        x = x.encode()
    o[k:k + len(x)] = x
    return k + len(x)
