# microhttp.server: the asyncio loop around the sans-I/O parser.
#
# One task per connection runs: readinto the parser's buffer -> next() -> dispatch -> write.
# Persistence follows RFC 9112 section 9.3 (HTTP/1.1 keeps alive unless "close"; HTTP/1.0
# only when it asks); pipelined requests are answered in order because one task reads and
# answers them one after another. Timeouts cost nothing per read: each connection records a
# deadline and one reaper task cancels connections whose deadline has passed (idle: closed
# silently, RFC 9112 section 9.5; head or body: 408 then close; write: close). While the heap
# is short a new connection is not accepted until one ends, and a request waits until the
# others in flight are answered (see _room). Buffers (the
# parser's read buffer) are pooled, so a kept-alive connection and the next connection reuse
# them instead of growing the heap; one output buffer serves every connection. Code size
# matters here (it is loaded into RAM on a board): terse code, long comments.
import asyncio
import gc

from micropython import const

from microhttp import compat, h1
from microhttp.compat import ticks_add, ticks_diff, ticks_ms
from microhttp.request import Request

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_SKIP = ("content-length", "transfer-encoding", "connection")  # framing is ours to write
# Connection phases: what an expired deadline means (index into Server.ms). const(): on
# MicroPython these names cost no global or name string at all.
_IDLE = const(0)  # between requests: close silently
_HEAD = const(1)  # reading a head: 408
_BODY = const(2)  # reading a body: 408
_WRITE = const(3)  # writing to a client that does not read: close
_RUN = const(4)  # in the handler: no deadline


class Server:
    """A running microhttp server; ``App.start()`` makes one. Limits (keyword arguments):

    :param max_conns: concurrent connections (8); over it an idle kept-alive connection is
        closed to make room, else the new one gets 503 with Retry-After
    :param idle_timeout: seconds a kept-alive connection may wait for its next request (30)
    :param head_timeout: seconds from a request's first byte to its complete head (10)
    :param body_timeout: seconds a request's body may take to arrive (10), plus 1 s for every
        500 bytes received (a minimum rate), and seconds any one response write may take
    :param out_size: bytes of the output buffer all connections share (1024): a response
        head and a small body are assembled there and handed to the socket in one write
    :param min_free: bytes of free heap needed to accept another connection while others
        are open, or to start handling a request while others are in flight (8 KB on a
        32-bit board, 16 KB on a 64-bit build; 0: never wait). Below it the newcomer waits
        in the listen backlog (deferred accept, MicroPython; not when every open connection
        is an event stream or WebSocket, as nothing would end), the request waits until the
        others are answered (5 s at most: ``admit_ms``), and a connection idle for a second
        or more is closed to make room
    :param backlog: listen backlog (4)
    Parser limits (see microhttp.h1.Parser): max_head (2048), max_line (1024), max_headers
    (32), max_chunk_line (128), max_trailer (1024). Body size: App(max_body=...).
    """

    def __init__(self, app, max_conns=8, idle_timeout=30, head_timeout=10, body_timeout=10,
                 out_size=1024, min_free=compat.WORD * 2048, backlog=4, **limits):
        self.app = app
        self.max_conns = max_conns
        self.min_free = min_free
        self.ms = [int(t * 1000) for t in (idle_timeout, head_timeout, body_timeout, body_timeout)]
        self.backlog = backlog
        self.limits = limits
        self.conns = []
        # The first connection's buffers, allocated now (and unknown limits rejected now).
        self.pool = [h1.Parser(**limits)]
        # Shared safely: a write hands the bytes to the socket (or copies what it cannot send)
        # before returning, and nothing awaits between filling this buffer and that write.
        self.out = bytearray(out_size)
        self.busy = 0  # requests admitted and not yet answered (see Conn.serve)
        self.admit_ms = 5000  # how long a request may wait for that while the heap is short
        self.seen = 0  # until when (ticks_ms) the last reading of the heap stands (_room)
        self.room = True  # what it found
        self.closing = self.closed = False
        self._done = None  # an asyncio.Event once someone waits (its module costs heap)

    async def start(self, host, port):
        self._l = await compat.listen(self._accept, host, port, self.backlog, self._acceptable)
        self._reaper = asyncio.create_task(self._reap())
        return self

    def _acceptable(self):
        # Whether to accept a pending connection now (MicroPython's accept loop asks). While
        # the heap is short, waiting helps only if something will free memory: a request
        # being read or answered, or an idle connection that _room() closes. When every open
        # connection is an event stream or a WebSocket, which may live for hours, the wait
        # would end only at its 5 s bound, with a phone's page blank meanwhile: accept now
        # (its requests then wait for room like any other, Conn.serve).
        if self._room():
            return True
        if self.busy:
            return False
        for c in self.conns:
            if c.phase != _RUN:
                return False
        return True

    def _room(self):
        # Asked before each accept() (through _acceptable; MicroPython only, CPython has no
        # heap limit), and by a request before its handler while others are in flight (Conn.serve):
        # whether the heap has room for one more connection or request. A connection that cannot
        # be served in the heap left would fail half-way (503, or a dropped connection when
        # even that cannot be allocated); deferred, it waits in the listen backlog until a
        # connection ends (5 s at most: see compat.listen). The first connection is always
        # taken: nothing else would free memory.
        if not self.conns:
            return True
        if 0 < ticks_diff(self.seen, ticks_ms()) <= 20:
            return self.room  # a recent reading stands (the bounds: see below)
        f = compat.mem_free()
        if f < self.min_free:
            gc.collect()  # the free figure counts garbage as used until a collection
            f = compat.mem_free()
            if f < self.min_free:
                self._reclaim(1000)
        if f >= 2 * self.min_free or f < self.min_free:
            # Plenty, or short even after a collection. Measuring walks the heap's whole
            # block table and collecting the whole heap, on a board far longer than a
            # keep-alive request takes, and in 20 ms the answer rarely changes: this reading
            # stands for 20 ms, or until a connection ends. (The bounds keep a stale
            # deadline from looking fresh after the ticks wrap.)
            self.seen = ticks_add(ticks_ms(), 20)
            self.room = f >= self.min_free
        return f >= self.min_free

    def _reclaim(self, idle_ms):
        # Close one connection idle for idle_ms or more (a phone opens several and leaves
        # them idle); whether there was one. Its task ends soon after, freeing its memory.
        t = ticks_add(ticks_ms(), self.ms[_IDLE] - idle_ms)
        for c in self.conns:
            if _idle(c) and not c.expired and ticks_diff(t, c.dl) >= 0:
                c.expired = True
                c.task.cancel()
                return True
        return False

    async def _reap(self):
        # Wake often enough that a deadline is late by at most a quarter of the shortest one.
        while True:
            await compat.sleep_ms(max(10, min(self.ms) // 4))
            for c in self.conns:
                if c.dl is not None and ticks_diff(ticks_ms(), c.dl) >= 0:
                    c.dl = None
                    c.expired = True
                    c.task.cancel()

    # close() and wait_closed() return microhttp.shutdown's coroutines (to await).
    def close(self, timeout=5):
        """Stop accepting, close idle connections, let in-flight requests finish (closing
        their connections afterwards), then cancel whatever is left after ``timeout`` s."""
        from microhttp.shutdown import close

        return close(self, timeout)

    def wait_closed(self):
        from microhttp.shutdown import wait_closed

        return wait_closed(self)

    async def _accept(self, r, w):
        c = None
        try:
            if len(self.conns) >= self.max_conns and not self._reclaim(0):
                return await _canned(w, 503, b"retry-after: 1\r\n")
            c = Conn(self, r, w)
            while await c.serve():
                pass
            if c.takeover is not None:
                # Run here, once the request's own frames are gone: an event stream or a
                # WebSocket may live for hours, holding only what it keeps of its request.
                takeover, c.takeover = c.takeover, None
                await takeover
        except asyncio.CancelledError:
            if c and c.expired and not c.sent and c.phase in (_HEAD, _BODY):
                await _canned(w, 408)
        except MemoryError:
            # Free what this request held, then try to say so; the server keeps serving.
            gc.collect()
            if not (c and c.sent):
                await _canned(w, 503)
        except Exception as e:
            if not (isinstance(e, OSError) and compat.gone(e)):
                from microhttp.log import logger

                logger.exception("connection", e)
                if not (c and c.sent):
                    await _canned(w, 500)
        finally:
            if c:
                self.busy -= c.admitted
                self.conns.remove(c)
                if c.p:
                    self.release(c.p)
            await compat.close(w)
            # Its memory is free: the heap is read again, and the deferred accept or request
            # waiting longest may go.
            self.seen = 0
            compat.wake()

    def release(self, p):
        # Return a parser (and its read buffer) to the pool, keeping at most max_conns.
        if len(self.pool) < self.max_conns:
            p.reset()
            self.pool.append(p)


def _idle(c):
    return c.phase == _IDLE and not c.p.buffered()


async def _canned(w, st, x=b""):
    try:
        w.write(b"HTTP/1.1 %d \r\n%scontent-length: 0\r\nconnection: close\r\n\r\n" % (st, x))
        await w.drain()
    except Exception:
        pass


class Conn:
    """One client connection: its parser, output buffer, deadline and task."""

    def __init__(self, srv, r, w):
        self.srv = srv
        self.r = r
        self.w = w
        self.dl = None
        self.expired = self.sent = self.cont = self.done = self.admitted = False
        self.takeover = None  # the coroutine that owns the connection after this response
        self.phase = _IDLE
        self.task = asyncio.current_task()
        self.p = srv.pool.pop() if srv.pool else h1.Parser(**srv.limits)
        self.o = srv.out  # where send() assembles a response (see _put)
        srv.conns.append(self)
        compat.nodelay(w)

    def _phase(self, ph):
        self.phase = ph
        self.dl = ticks_add(ticks_ms(), self.srv.ms[ph]) if ph < _RUN else None

    async def fill(self, ph):
        """Read more bytes into the parser; 0 at end of stream."""
        if ph == _BODY:
            if self.cont:
                self.cont = False
                await self.write(_CONTINUE)  # RFC 9110 section 10.1.1
            # The body's reads share one budget (body_timeout), and every byte received
            # earns 2 ms more (a minimum rate of 500 B/s, as Apache's mod_reqtimeout): a
            # client trickling a byte now and then cannot hold a slot, a slow link can finish.
            t = ticks_ms()
            self.phase = _BODY
            self.dl = ticks_add(t, self.left)
        n = await compat.readinto(self.r, self.p.space())
        if ph == _BODY:
            self.left -= ticks_diff(ticks_ms(), t) - 2 * n
            self._phase(_RUN)
        self.p.feed(n)
        return n

    def write(self, b):
        # Not async: the caller awaits drain() itself, one coroutine frame less per write.
        # The write deadline stays armed until the next phase change clears it.
        self.dl = ticks_add(ticks_ms(), self.srv.ms[_WRITE])
        compat.write(self.w, b)
        return self.w.drain()

    # The coroutines below are allocated on the heap at every call, with room for all their
    # locals: the synchronous work is in plain methods (their frames live on the C stack), so
    # that each request allocates small frames, which fit the holes of a fragmented heap.

    async def serve(self):
        # One request on this connection: wait for it, parse it, handle it, answer it;
        # whether the connection stays open (Server._accept calls this again then). A
        # coroutine per request: when it returns, nothing of the request (head, Request,
        # Response) stays referenced from a frame that waits for the next one.
        p, srv = self.p, self.srv
        self.sent = False
        self._phase(_IDLE)
        # The request's first bytes: read into the parser's buffer, not parsed yet.
        while not p.buffered():
            if not await self.fill(_HEAD):
                return False
        self._phase(_HEAD)  # the head deadline runs from the first byte
        # Admission, before the head is parsed (its strings and headers dict are most of
        # what a request holds). A request in flight holds a few hundred bytes to a few KB,
        # in pieces: with several at once in a short heap, the free bytes end up in holes
        # too small for the next allocation, and requests fail half-way (503) with KBs free.
        # So while the heap is short, a request waits until the others are answered (each
        # answer wakes the request waiting longest), admit_ms at most: one at a time, every
        # one answered. (_room() is the heap check here: this connection is one of srv.conns.)
        t = ticks_ms()
        while srv.busy and not srv._room() and ticks_diff(ticks_ms(), t) < srv.admit_ms:
            await compat.wait_ms(100)  # woken at once, or asks again
        try:
            while not p.next():  # NEED; in this state the only other event is HEAD
                if not await self.fill(_HEAD):
                    return False
            req = self._request()
        except h1.HTTPError as e:
            from microhttp.slowpath import error_response

            return await self.send(None, error_response(None, e))
        # In flight from here (a head still arriving holds no one back: it may take seconds).
        srv.busy += 1
        self.admitted = True
        return await self.send(req, await srv.app.dispatch(req))

    def _request(self):
        # A head has arrived: its Request, and the state of its body.
        srv, p = self.srv, self.p
        self._phase(_RUN)
        self.left = srv.ms[_BODY]  # ms left for reading this request's body (see fill)
        req = Request(srv.app, self, p)
        p.max_body = srv.app.max_body
        self.cont = p.version == 11 and p.headers.get("expect", "").lower() == "100-continue"
        # The Request has the head now: a parser waiting for the connection's next request
        # must not keep it alive.
        p.headers = p.method = p.target = None
        self.done = not p.length and p.next()  # END at once for an empty body
        return req

    def _put(self, k, x):
        # Copy into the output buffer. The shared buffer never grows (another connection may
        # hold a view of it across an await): a head too large for it moves to a private one.
        if isinstance(x, str):
            x = x.encode()
        o = self.o
        if k + len(x) > len(o):
            self.o = o = bytearray(o[:k])
        o[k:k + len(x)] = x
        return k + len(x)

    def _head(self, req, r):
        # Frame response r (RFC 9112 section 6) and assemble its head in self.o. Returns
        # (head length, body to send or None, Content-Length or -1 for chunked or None for
        # no framing field, whether the connection stays open).
        st, h, b, tk = r.status, r.headers, r.body, r.takeover
        v10 = req and self.p.version == 10
        # RFC 9112 section 9.3: persistence as the request asked, unless either side closes.
        keep = (req and self.p.keep_alive and not self.srv.closing and not tk
                and h.get("connection") != "close")
        if keep and not self.done:
            # The handler did not read the whole body (rare: microhttp.body decides).
            from microhttp.body import skip

            keep = skip(self)
        if tk or st < 200 or st == 204 or st == 304:
            b = n = None
        else:
            if isinstance(b, str):
                b = b.encode()
            if isinstance(b, (bytes, bytearray, memoryview)):
                n = len(b)
            else:  # a file or an iterator of chunks
                from microhttp.streams import length

                n = length(b, h, v10)
                if n is None:
                    keep = False  # HTTP/1.0 has no chunked coding: the close ends the body
        self.o = self.srv.out
        # RFC 9112 section 4: the reason phrase is optional; only 200 carries one.
        k = self._put(0, b"HTTP/1.1 200 OK\r\n" if st == 200 else b"HTTP/1.1 %d \r\n" % st)
        for x in h:
            if tk or x not in _SKIP:
                k = self._put(k, "%s: %s\r\n" % (x, h[x]))
        if n and "content-type" not in h:
            k = self._put(k, b"content-type: text/plain; charset=utf-8\r\n")
        if n is not None:
            k = self._put(k, b"transfer-encoding: chunked\r\n" if n < 0 else b"content-length: %d\r\n" % n)
        if not tk and (v10 or not keep):
            k = self._put(k, b"connection: keep-alive\r\n" if keep else b"connection: close\r\n")
        for x in r.cookies or ():
            k = self._put(k, "set-cookie: %s\r\n" % x)
        k = self._put(k, b"\r\n")
        if req and req.method == "HEAD":
            b = None
        return k, b, n, keep

    async def send(self, req, r):
        """Write response ``r``; returns whether the connection stays open."""
        k, b, n, keep = self._head(req, r)
        mv = memoryview(self.o)
        self.sent = True
        if b is None:
            try:
                await self.write(mv[:k])
            finally:
                if hasattr(r.body, "close"):  # a file answering HEAD
                    r.body.close()
        elif not isinstance(b, (bytes, bytearray, memoryview)):
            from microhttp.streams import send_body

            await send_body(self, b, n, mv, k)
        elif n <= len(mv) - k:
            # Head and a small body in one write: no Nagle/delayed-ACK stall.
            mv[k:k + n] = b
            await self.write(mv[:k + n])
        else:
            await self.write(mv[:k])
            await self.write(b)
        self._phase(_RUN)
        # Answered (an exception on the way is counted in Server._accept); a takeover
        # (WebSocket, SSE) may run for hours and is not in flight.
        self.srv.busy -= self.admitted
        self.admitted = False
        compat.wake()  # the request waiting longest may go
        if r.takeover:
            p = self.p
            if not p.buffered():
                # A WebSocket or SSE connection may live for hours: give its read buffer
                # back to the pool now rather than when it closes.
                self.p = None
                self.srv.release(p)
            self.takeover = r.takeover(req)  # Server._accept runs it (the head said: no keep-alive)
        return keep
