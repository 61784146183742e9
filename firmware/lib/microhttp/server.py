# microhttp.server: the connection lifetime around the sans-I/O parser (microhttp.h1).
#
# One task per connection runs: readinto the parser's buffer -> next() -> dispatch -> write.
# Persistence follows RFC 9112 section 9.3 (HTTP/1.1 keeps alive unless "close"; HTTP/1.0
# only when it asks); pipelined requests are answered in order because one task reads and
# answers them one after another. Timeouts cost nothing per read: each connection records a
# deadline and one reaper task cancels connections whose deadline has passed (idle: closed
# silently, RFC 9112 section 9.5; head or body: 408 then close; write: close). While the heap
# is short a new connection is not accepted until one ends, and a request waits until the
# others in flight are answered (see has_room). Parsers, with their read buffers, are pooled,
# so a kept-alive connection and the next connection reuse them instead of growing the heap;
# one output buffer serves every connection.
#
# Here: Server (accept, admission, deadlines, the parser pool, close) and Connection (reading
# a request and its body, writing the response, streamed bodies included).
import asyncio
import gc

from micropython import const

from microhttp import compat, h1
from microhttp.compat import ticks_add, ticks_diff, ticks_ms
from microhttp.errors import HTTPError
from microhttp.request import Request

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_FRAMING = ("content-length", "transfer-encoding", "connection")  # framing is ours to write
# Connection phases: what an expired deadline means (index into Server.timeouts_ms). const():
# on MicroPython these names cost no global or name string at all.
_IDLE = const(0)  # between requests: close silently
_HEAD = const(1)  # reading a head: 408
_BODY = const(2)  # reading a body: 408
_WRITE = const(3)  # writing to a client that does not read: close
_RUN = const(4)  # in the handler: no deadline
# Lingering close (RFC 9112 section 9.6): after an answer that ends the connection before the
# request was read to its end (an error: 4xx, 503, 408, 500), read and discard what the client
# still sends until it closes or goes quiet, within these bounds, then close. Closing with its
# bytes unread would make TCP send RST instead of FIN, and a client that sent a whole request
# before reading then loses our answer to the reset, or fails sending the rest.
_LINGER_MS = const(2000)  # in all
_LINGER_QUIET_MS = const(500)  # with nothing received: the client has sent all it had
_LINGER_BYTES = const(65536)
_SLOT_WAIT_MS = const(1000)  # how long a request over max_conns waits for a slot (see take_slot)
# Over max_conns a new connection is on trial (see Connection.serve): its head must arrive
# within this, or it is answered 503 with Retry-After.
_TRIAL_MS = const(250)
# At the cap, a head unfinished this long gives its slot to a complete request on trial, and
# so does a connection that has sent nothing for _SILENT_MS (see close_stalled).
_STALLED_MS = const(250)
_SILENT_MS = const(1000)
# A head's deadline (RFC 9112 has none; a minimum data rate as Apache's mod_reqtimeout): this
# long from its first byte, plus 2 ms for each byte received (500 B/s), never more than
# head_timeout. A client dribbling its head gives its slot back within seconds.
_HEAD_START_MS = const(2000)
_RETRY = b"retry-after: 1\r\n"
# The largest read buffer the parser pool keeps: one that a phone browser's head grew fits.
_POOLED_BUFFER = const(1024)


class Server:
    """A running microhttp server; ``App.start()`` makes one. Limits (keyword arguments):

    :param max_conns: concurrent connections (8). Over it a new connection is on trial: its
        head must arrive within 250 ms (else 503 with Retry-After); then an idle kept-alive
        connection is closed to make room for it, else the one whose head has made the least
        progress for 250 ms or more (408), else it waits for a slot, and gets 503 with
        Retry-After if none is free within 1 s
    :param idle_timeout: seconds a kept-alive connection may wait for its next request (30)
    :param head_timeout: seconds from a request's first byte to its complete head (10), and
        a minimum rate: 2 s from the first byte plus 2 ms a byte received
    :param body_timeout: seconds a request's body may take to arrive (10), plus 1 s for every
        500 bytes received (a minimum rate), and seconds any one response write may take
    :param out_size: bytes of the output buffer all connections share (1024): a response
        head and a small body are assembled there and handed to the socket in one write
    :param min_free: bytes of free heap needed to accept another connection while others
        are open (8 KB on a 32-bit board, 16 KB on a 64-bit build; 0: never wait), and twice
        that to start handling a request while others are in flight. Below it the newcomer waits
        in the listen backlog (deferred accept, MicroPython; not when every open connection
        is an event stream or WebSocket, as nothing would end), the request waits until the
        others are answered (5 s at most: ``admit_ms``), and a kept-alive connection idle
        for a second or more is closed to make room
    :param backlog: listen backlog (16): connections the network stack completes before they
        are accepted (a board's stack may allow fewer). A burst beyond it (two phones opening
        a page's six connections each is twelve) loses its handshakes, and its requests wait
        for the clients' retransmissions, a second or more.
    Parser limits (see microhttp.h1.Parser): max_head (2048), max_line (1024), max_headers
    (32), max_chunk_line (128), max_trailer (1024). Body size: App(max_body=...).
    """

    def __init__(self, app, max_conns=8, idle_timeout=30, head_timeout=10, body_timeout=10,
                 out_size=1024, min_free=compat.WORD * 2048, backlog=16, **limits):
        self.app = app
        self.max_conns = max_conns
        self.min_free = min_free
        # Indexed by phase: idle, head, body, write.
        self.timeouts_ms = [int(t * 1000) for t in (idle_timeout, head_timeout, body_timeout, body_timeout)]
        self.backlog = backlog
        self.limits = limits
        self.conns = []
        self.on_trial = 0  # of those, the new ones over max_conns (see Connection.serve)
        # The first connection's parser and buffer, allocated now (and unknown limits
        # rejected now).
        self.pool = [h1.Parser(**limits)]
        self.drawn = ticks_ms()  # when a new connection last took a parser (see trim_pool)
        # How long without a new connection before the pool shrinks (see trim_pool).
        self.pool_quiet_ms = 10000
        # Shared safely: a write hands the bytes to the socket (or copies what it cannot send)
        # before returning, and nothing awaits between filling this buffer and that write.
        self.out = bytearray(out_size)
        self.busy = 0  # requests admitted and not yet answered (see Connection.serve)
        self.admit_ms = 5000  # how long a request may wait for that while the heap is short
        self.room_until = 0  # until when (ticks_ms) the last reading of the heap stands
        self.room = 0  # what it found: the free heap, in bytes
        self.closing = self.closed = False
        self.listener = self.reaper = None
        self.closed_event = None  # an asyncio.Event once someone waits (its module costs heap)

    async def start(self, host, port):
        self.listener = await compat.listen(self.accept, host, port, self.backlog, self.acceptable)
        self.reaper = asyncio.create_task(self.reap())
        return self

    def acceptable(self):
        # Whether to accept a pending connection now (MicroPython's accept loop asks). While
        # the heap is short, waiting helps only if something will free memory: a request
        # being read or answered, or an idle connection that has_room() closes. When every
        # open connection is an event stream or a WebSocket, which may live for hours, the
        # wait would end only at its 5 s bound, with a phone's page blank meanwhile: accept now
        # (its requests then wait for room like any other, Connection.serve).
        if self.has_room():
            return True
        if self.busy:
            return False
        for conn in self.conns:
            if conn.phase != _RUN:
                return False
        return True

    def has_room(self, need=1):
        # Asked before each accept() (through _acceptable; MicroPython only, CPython has no
        # heap limit), and by a request before its handler while others are in flight
        # (Connection.serve, with ``need`` 2): whether the heap has ``need`` times min_free
        # free, room for one more connection or request. A connection that cannot
        # be served in the heap left would fail half-way (503, or a dropped connection when
        # even that cannot be allocated); deferred, it waits in the listen backlog until a
        # connection ends (5 s at most: see compat.listen). The first connection is always
        # taken: nothing else would free memory.
        if not self.conns:
            return True
        if 0 < ticks_diff(self.room_until, ticks_ms()) <= 20:
            return self.room >= need * self.min_free  # a recent reading stands (the bounds: see below)
        f = compat.mem_free()
        if f < need * self.min_free:
            gc.collect()  # the free figure counts garbage as used until a collection
            f = compat.mem_free()
            if f < self.min_free:
                self.close_idle(1000)
        if f >= 2 * self.min_free or f < self.min_free:
            # Plenty, or short even after a collection. Measuring walks the heap's whole
            # block table and collecting the whole heap, on a board far longer than a
            # keep-alive request takes, and in 20 ms the answer rarely changes: this reading
            # stands for 20 ms, or until a connection ends. (The bounds keep a stale
            # deadline from looking fresh after the ticks wrap.)
            self.room_until = ticks_add(ticks_ms(), 20)
            self.room = f
        return f >= need * self.min_free

    def close_idle(self, idle_ms):
        # Close one kept-alive connection idle for idle_ms or more (a phone opens several and
        # leaves them idle); whether there was one. Its task ends soon after, freeing its
        # memory. Only one that has answered a request: its client knows the connection may
        # close between requests and retries (RFC 9112 section 9.3.1); a just-accepted one
        # may hold a request not read yet, which closing would leave without any answer.
        limit = ticks_add(ticks_ms(), self.timeouts_ms[_IDLE] - idle_ms)
        for conn in self.conns:
            if conn.answered and conn.is_idle() and not conn.expired and ticks_diff(limit, conn.deadline) >= 0:
                conn.expired = True
                conn.task.cancel()
                return True
        return False

    async def take_slot(self):
        # A request on trial (its connection came over max_conns) has its head: whether it
        # may go on. It waits, a second at most, for a connection to end or to become one
        # that may be closed to make room: a phone loading a page opens several connections
        # at once, and each of them is answered in milliseconds.
        began = ticks_ms()
        while len(self.conns) - self.on_trial >= self.max_conns and not self.close_idle(0) and not self.close_stalled():
            if ticks_diff(ticks_ms(), began) >= _SLOT_WAIT_MS:
                return False
            await compat.wait_ms(50)  # woken when a connection ends or a request is answered
        return True

    def close_stalled(self):
        # At the cap with no idle kept-alive connection to close, for a complete request on
        # trial: close the connection whose head has made the least progress, that is the
        # one unfinished for longest (_STALLED_MS or more), or one that has sent nothing
        # since it was accepted _SILENT_MS ago (408, then a lingering close: under load a
        # request may be waiting unread in its socket). Clients that dribble their heads
        # (slowloris) or open connections and send nothing cannot hold every slot against
        # a phone; whether there was one.
        now = ticks_ms()
        stalled = None
        for conn in self.conns:
            if conn.expired or conn.trial:
                continue
            if conn.phase == _HEAD:
                least = _STALLED_MS
            elif conn.phase == _IDLE and not conn.answered:
                least = _SILENT_MS
            else:
                continue
            if ticks_diff(now, conn.since) >= least and (stalled is None or ticks_diff(conn.since, stalled.since) < 0):
                stalled = conn
        if stalled is None:
            return False
        stalled.expired = stalled.evicted = True
        stalled.task.cancel()
        return True

    async def reap(self):
        # Wake often enough that a deadline is late by at most a quarter of the shortest one.
        while True:
            await compat.sleep_ms(max(10, min(self.timeouts_ms) // 4))
            self.trim_pool()
            for conn in self.conns:
                if conn.deadline is not None and ticks_diff(ticks_ms(), conn.deadline) >= 0:
                    conn.deadline = None
                    conn.expired = True
                    conn.task.cancel()

    async def close(self, timeout=5):
        """Stop accepting, close idle connections, let in-flight requests finish (closing
        their connections afterwards), then cancel whatever is left after ``timeout`` s."""
        if self.closing:
            return
        self.closing = True
        if self.listener:
            self.listener.cancel()
        limit = ticks_add(ticks_ms(), int(timeout * 1000))
        while self.conns:
            late = ticks_diff(ticks_ms(), limit) > 0
            for conn in self.conns:
                if late or conn.is_idle():
                    conn.task.cancel()
            await compat.sleep_ms(10)
        if self.reaper:
            self.reaper.cancel()
        self.closed = True
        if self.closed_event:
            self.closed_event.set()

    async def wait_closed(self):
        if not self.closed:
            if self.closed_event is None:
                self.closed_event = asyncio.Event()
            await self.closed_event.wait()

    async def accept(self, reader, writer):
        # The task of one connection, from accept to close.
        conn = None
        linger = False  # whether the client may still be sending when we close (see _LINGER_MS)
        try:
            trial = len(self.conns) - self.on_trial >= self.max_conns
            if trial and not self.has_room():
                # Over the cap and no room for another parser: a fast answer without one. (A
                # heap run dry is worse than a refusal: MicroPython's select.poll, which
                # asyncio waits with, is left broken by a MemoryError while it registers a
                # socket.)
                linger = await _canned(writer, 503, _RETRY)
                return
            conn = Connection(self, reader, writer, trial)
            while await conn.serve():
                pass
            linger = conn.unread
            if conn.takeover is not None:
                # Run here, once the request's own frames are gone: an event stream or a
                # WebSocket may live for hours, holding only what it keeps of its request.
                takeover, conn.takeover = conn.takeover, None
                await takeover
        except asyncio.CancelledError:
            if conn and conn.expired and not conn.sent:
                if conn.trial:  # over the cap, and its request did not come in time
                    linger = await _canned(writer, 503, _RETRY)
                elif conn.phase in (_HEAD, _BODY) or conn.evicted:  # not one idle for its timeout
                    linger = await _canned(writer, 408)
        except MemoryError:
            # Free what this request held, then try to say so; the server keeps serving.
            gc.collect()
            if not (conn and conn.sent):
                try:
                    linger = await _canned(writer, 503, _RETRY)
                except MemoryError:
                    pass  # no heap even for the answer: the close below still happens
        except Exception as e:
            if not (isinstance(e, OSError) and compat.gone(e)):
                from microhttp.log import logger

                logger.exception("connection", e)
                if not (conn and conn.sent):
                    linger = await _canned(writer, 500)
        finally:
            if conn:
                self.busy -= conn.admitted
                self.on_trial -= conn.trial
                self.conns.remove(conn)
                if conn.parser:
                    self.release(conn.parser)
            # Its memory is free: the heap is read again, and the deferred accept or request
            # waiting longest may go.
            self.room_until = 0
            compat.wake()
            try:
                if linger:
                    # Out of self.conns: bounded by itself, holding only its socket. The
                    # discarded bytes may land in the shared output buffer: they are written
                    # there synchronously and never read, and every user of that buffer fills
                    # it and hands it to its socket with no await in between.
                    await compat.linger(reader, writer, self.out, _LINGER_MS, _LINGER_QUIET_MS, _LINGER_BYTES)
            except MemoryError:
                pass  # closed at once then: the client may see a reset instead of the end
            finally:
                compat.close(writer)  # allocates nothing: a socket is never left open

    def take_parser(self):
        # A new connection's parser: a pooled one, else a new one.
        self.drawn = ticks_ms()
        return self.pool.pop() if self.pool else h1.Parser(**self.limits)

    def quiet(self):
        # Whether no new connection has come for pool_quiet_ms.
        return ticks_diff(ticks_ms(), self.drawn) >= self.pool_quiet_ms

    def trim_pool(self):
        # A quiet server's pool keeps one parser with a first-size buffer: the others served
        # a burst (a phone opens several connections to load a page) and would hold their
        # buffers for the rest of the run, heap the board's own code could use. (The reaper
        # asks every few seconds.)
        pool = self.pool
        if pool and (len(pool) > 1 or len(pool[0].buffer) > h1.FIRST_BUFFER) and self.quiet():
            del pool[1:]
            pool[0].reset(h1.FIRST_BUFFER)

    def release(self, parser):
        # Return a parser (and its read buffer) to the pool, keeping at most max_conns, or one
        # once the server is quiet (see trim_pool). A buffer that grew past what a phone
        # browser's head needs goes: a rare long head must not hold its kilobytes for the
        # rest of the run.
        quiet = self.quiet()
        if len(self.pool) < (1 if quiet else self.max_conns):
            parser.reset(h1.FIRST_BUFFER if quiet else _POOLED_BUFFER)
            self.pool.append(parser)


async def _canned(writer, status, fields=b""):
    # Answer ``status`` and close; whether the answer was sent.
    try:
        writer.write(b"HTTP/1.1 %d \r\n%scontent-length: 0\r\nconnection: close\r\n\r\n" % (status, fields))
        await writer.drain()
        return True
    except Exception:
        return False


class Connection:
    """One client connection: its parser, deadline and task, and the request being served."""

    def __init__(self, server, reader, writer, trial=False):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.deadline = None
        self.expired = self.sent = self.expect_continue = self.body_done = self.admitted = False
        self.evicted = False  # closed to make room for a complete request (see close_stalled)
        self.answered = False  # whether a response has been sent on this connection
        self.unread = False  # whether the last response closes with the request not read to its end
        self.takeover = None  # the coroutine that owns the connection after this response
        self.phase = _IDLE
        self.trial = trial  # over max_conns: on trial until its head has a slot (see serve)
        self.since = ticks_ms()  # accepted, or the current head's first byte (see close_stalled)
        self.task = asyncio.current_task()
        self.parser = server.take_parser()
        self.out = server.out  # where the response head is assembled (see _put)
        self.body_ms_left = 0  # ms left for reading this request's body (see fill)
        compat.nodelay(writer)
        # Last, where nothing allocates after it: a connection counted is one that
        # Server.accept will also uncount, whatever runs out of memory.
        server.conns.append(self)
        server.on_trial += trial

    def is_idle(self):
        """Between requests, with nothing of the next one received."""
        return self.phase == _IDLE and not self.parser.buffered()

    def _phase(self, phase):
        self.phase = phase
        self.deadline = ticks_add(ticks_ms(), self.server.timeouts_ms[phase]) if phase < _RUN else None
        if self.trial and phase < _RUN:
            self.deadline = ticks_add(self.since, _TRIAL_MS)

    async def fill(self, phase):
        """Read more bytes into the parser; 0 at end of stream."""
        if phase == _BODY:
            if self.expect_continue:
                self.expect_continue = False
                await self.write(_CONTINUE)  # RFC 9110 section 10.1.1
            # The body's reads share one budget (body_timeout), and every byte received
            # earns 2 ms more (a minimum rate of 500 B/s, as Apache's mod_reqtimeout): a
            # client trickling a byte now and then cannot hold a slot, a slow link can finish.
            began = ticks_ms()
            self.phase = _BODY
            self.deadline = ticks_add(began, self.body_ms_left)
        n = await compat.readinto(self.reader, self.parser.space())
        if phase == _BODY:
            self.body_ms_left -= ticks_diff(ticks_ms(), began) - 2 * n
            self._phase(_RUN)
        elif self.phase == _HEAD and not self.trial and self.deadline is not None:
            # Its minimum rate: each byte earns 2 ms, up to head_timeout from the first byte.
            self._head_deadline(ticks_add(self.deadline, 2 * n))
        self.parser.feed(n)
        return n

    async def body_piece(self):
        """The request body's next piece, a view into the read buffer valid until the next
        call, or None at its end (microhttp.body reads bodies through this)."""
        parser = self.parser
        while not self.body_done:
            event = parser.next()
            if event == h1.DATA:
                return parser.data
            if event == h1.END:
                self.body_done = True
            elif not await self.fill(_BODY):
                raise HTTPError(400, "incomplete body")

    def discard_body(self):
        # The handler did not read the whole body: discard it if it is already buffered (the
        # connection stays open: True), otherwise close (reading an unwanted upload would
        # only waste the slot).
        try:
            while not self.body_done:
                event = self.parser.next()
                if event == h1.NEED:
                    return False
                self.body_done = event == h1.END
        except HTTPError:
            return False
        return True

    def write(self, data):
        # Not async: the caller awaits drain() itself, one coroutine frame less per write.
        # The write deadline stays armed until the next phase change clears it.
        self.deadline = ticks_add(ticks_ms(), self.server.timeouts_ms[_WRITE])
        compat.write(self.writer, data)
        return self.writer.drain()

    # The coroutines below are allocated on the heap at every call, with room for all their
    # locals: the synchronous work is in plain methods (their frames live on the C stack), so
    # that each request allocates small frames, which fit the holes of a fragmented heap.

    async def serve(self):
        # One request on this connection: wait for it, parse it, handle it, answer it;
        # whether the connection stays open (Server.accept calls this again then). A
        # coroutine per request: when it returns, nothing of the request (head, Request,
        # Response) stays referenced from a frame that waits for the next one.
        parser, server = self.parser, self.server
        self.sent = False
        self._phase(_IDLE)
        # The request's first bytes: read into the parser's buffer, not parsed yet.
        while not parser.buffered():
            if not await self.fill(_HEAD):
                return False
        self._head_started()
        # Admission, before the head is parsed (its strings and headers dict are most of
        # what a request holds). A request in flight holds a few hundred bytes to a few KB,
        # in pieces: with several at once in a short heap, the free bytes end up in holes
        # too small for the next allocation, and requests fail half-way (503) with KBs free.
        # So a request starts beside others only with twice min_free free: its own room,
        # and as much again for what those still allocate and the holes between their
        # pieces. Otherwise it waits until the others are answered (each answer wakes the
        # request waiting longest), admit_ms at most: one at a time, every one answered.
        # (has_room() is the heap check here: this connection is one of server.conns.)
        began = ticks_ms()  # admit_ms counts from here, for both checks
        if server.busy and not server.has_room(2):  # others in flight and the heap short
            await self._admission(began)
        more = False  # whether more of the head arrived after that check
        try:
            while parser.next() == h1.NEED:  # in this state the only other event is HEAD
                if not await self.fill(_HEAD):
                    return False
                more = True
            request = self._request()
        except HTTPError as e:
            return await self.send(None, server.app.error_response(None, e))
        if self.trial:
            # Over the cap, its head complete: a slot, else 503 (Retry-After).
            self._phase(_RUN)
            if not await server.take_slot():
                self.unread = True
                self.sent = await _canned(self.writer, 503, _RETRY)
                return False
            self.trial = False
            server.on_trial -= 1
        if more and server.busy and not server.has_room(2):
            await self._admission(began)  # others started while the rest of this head arrived
        # In flight from here (a head still arriving holds no one back: it may take seconds).
        server.busy += 1
        self.admitted = True
        response = await server.app.dispatch(request)
        return await self.send(request, response)

    def _head_started(self):
        # The head's first bytes are in: its deadline runs from now, with its minimum rate
        # (see fill); on trial, its trial's deadline stands.
        self.phase = _HEAD
        if self.trial:
            return
        self.since = ticks_ms()
        self._head_deadline(ticks_add(self.since, _HEAD_START_MS + 2 * self.parser.buffered()))

    def _head_deadline(self, deadline):
        # ``deadline`` for the head, unless that is more than head_timeout after its first byte.
        limit = ticks_add(self.since, self.server.timeouts_ms[_HEAD])
        self.deadline = limit if ticks_diff(deadline, limit) > 0 else deadline

    async def _admission(self, began):
        # Wait while the heap is short and others are in flight, until admit_ms after
        # ``began`` at most.
        server = self.server
        while server.busy and not server.has_room(2) and ticks_diff(ticks_ms(), began) < server.admit_ms:
            await compat.wait_ms(100)  # woken when a request is answered, or asks again

    def _request(self):
        # A head has arrived: its Request, and the state of its body.
        server, parser = self.server, self.parser
        self._phase(_RUN)
        self.body_ms_left = server.timeouts_ms[_BODY]
        request = Request(server.app, self, parser)
        parser.max_body = server.app.max_body
        self.expect_continue = parser.version == 11 and parser.headers.get("expect", "").lower() == "100-continue"
        # The Request has the head now: a parser waiting for the connection's next request
        # must not keep it alive.
        parser.headers = parser.method = parser.target = None
        self.body_done = not parser.length and parser.next() == h1.END  # at once for an empty body
        return request

    def _put(self, at, data):
        # Copy into the output buffer at offset ``at``; returns the offset after it. The
        # shared buffer never grows (another connection may hold a view of it across an
        # await): a head too large for it moves to a private one.
        if isinstance(data, str):
            data = data.encode()
        out = self.out
        if at + len(data) > len(out):
            self.out = out = bytearray(out[:at])
        out[at:at + len(data)] = data
        return at + len(data)

    def _head(self, request, response):
        # Frame the response (RFC 9112 section 6) and assemble its head in self.out. Returns
        # (head length, body to send or None, Content-Length or -1 for chunked or None for
        # no framing field, whether the connection stays open).
        status, headers, body, takeover = response.status, response.headers, response.body, response.takeover
        http10 = request and self.parser.version == 10
        # RFC 9112 section 9.3: persistence as the request asked, unless either side closes.
        keep = (request and self.parser.keep_alive and not self.server.closing and not takeover
                and headers.get("connection") != "close")
        if keep and not self.body_done:
            keep = self.discard_body()
        if takeover or status < 200 or status == 204 or status == 304:
            body = length = None
        else:
            if isinstance(body, str):
                body = body.encode()
            if isinstance(body, (bytes, bytearray, memoryview)):
                length = len(body)
            elif hasattr(body, "readinto"):  # a file: its content-length field, else its size
                length = headers.get("content-length")
                if length is None:
                    body.seek(0, 2)
                    length = body.tell()
                    body.seek(0)
                length = int(length)
            elif http10:
                length = None
                keep = False  # HTTP/1.0 has no chunked coding: the close ends the body
            else:
                length = -1  # an iterator of chunks: chunked (RFC 9112 section 7.1)
        self.out = self.server.out
        # RFC 9112 section 4: the reason phrase is optional; only 200 carries one.
        at = self._put(0, b"HTTP/1.1 200 OK\r\n" if status == 200 else b"HTTP/1.1 %d \r\n" % status)
        for name in headers:
            if takeover or name not in _FRAMING:
                at = self._put(at, "%s: %s\r\n" % (name, headers[name]))
        if length and "content-type" not in headers:
            at = self._put(at, b"content-type: text/plain; charset=utf-8\r\n")
        if length is not None:
            at = self._put(at, b"transfer-encoding: chunked\r\n" if length < 0 else b"content-length: %d\r\n" % length)
        if not takeover and (http10 or not keep):
            at = self._put(at, b"connection: keep-alive\r\n" if keep else b"connection: close\r\n")
        for cookie in response.cookies or ():
            at = self._put(at, "set-cookie: %s\r\n" % cookie)
        at = self._put(at, b"\r\n")
        if request and request.method == "HEAD":
            body = None
        return at, body, length, keep

    async def send(self, request, response):
        """Write ``response``; returns whether the connection stays open."""
        head_length, body, length, keep = self._head(request, response)
        # A head that could not be parsed, a body left unread or a pipelined request: the
        # client may still be sending when the connection closes (Server.accept lingers).
        self.unread = not keep and not response.takeover and (
            request is None or not self.body_done or self.parser.buffered())
        out = memoryview(self.out)
        self.sent = self.answered = True
        try:
            if body is None:
                await self.write(out[:head_length])
            elif not isinstance(body, (bytes, bytearray, memoryview)):
                await self._send_stream(body, length, out, head_length)
            elif length <= len(out) - head_length:
                # Head and a small body in one write: no Nagle/delayed-ACK stall.
                out[head_length:head_length + length] = body
                await self.write(out[:head_length + length])
            else:
                await self.write(out[:head_length])
                await self.write(body)
        finally:
            if hasattr(response.body, "close"):  # a file or a closable iterator, whatever happened
                response.body.close()
        self._phase(_RUN)
        # Answered (an exception on the way is counted in Server.accept); a takeover
        # (WebSocket, SSE) may run for hours and is not in flight.
        self.server.busy -= self.admitted
        self.admitted = False
        compat.wake()  # the request waiting longest may go
        if response.takeover:
            parser = self.parser
            if not parser.buffered():
                # A WebSocket or SSE connection may live for hours: give its read buffer
                # back to the pool now rather than when it closes.
                self.parser = None
                self.server.release(parser)
            self.takeover = response.takeover(request)  # Server.accept runs it (no keep-alive)
        return keep

    async def _send_stream(self, body, length, out, head_length):
        # A file streams through the output buffer, its first piece with the head; an
        # iterator of chunks (sync or async) goes out chunked, or close-delimited for HTTP/1.0
        # (length None).
        if hasattr(body, "readinto"):
            while True:
                n = body.readinto(out[head_length:]) or 0
                if not head_length + n:
                    return
                await self.write(out[:head_length + n])
                head_length = 0
        await self.write(out[:head_length])
        is_async = hasattr(body, "__anext__")
        chunks = body if is_async else iter(body)
        while True:
            try:
                chunk = await body.__anext__() if is_async else next(chunks)
            except (StopAsyncIteration, StopIteration):
                break
            if isinstance(chunk, str):
                chunk = chunk.encode()
            if chunk:
                await self.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if length else chunk)
        if length:
            await self.write(b"0\r\n\r\n")
