"""Server-Sent Events (WHATWG HTML, section 9.2 "Server-sent events") with replay, for microhttp.

    from microhttp.sse import EventHub

    hub = EventHub(history=16, heartbeat=15)

    @app.get("/events")
    async def events(request):
        return hub.response(request)          # one long-lived stream per browser tab

    hub.publish('{"led": 1}', event="state")  # from anywhere, also synchronous code

Every published event gets an id; the last ``history`` events are kept, already encoded, in a
ring buffer. A browser that reconnects sends ``Last-Event-ID`` (9.2.4) and receives exactly the
events it missed. When they are no longer all in the ring (or the id is from before a reboot:
ids carry a per-boot prefix), it gets one ``resync`` event instead, telling the page to fetch
the full state again. Idle streams get a comment line every ``heartbeat`` seconds, which keeps
proxies from timing out and makes a vanished client fail a write, so it is dropped.

``format_event(data, event=None, id=None, retry=None)`` encodes one event (bytes);
``stream(request, source)`` sends events from an async iterator of ``data`` or
``(data, event)`` items to one client.
"""

import asyncio

from microhttp import compat
from microhttp.compat import ticks_diff, ticks_ms

MAX_EVENT = 1024  # bytes of one encoded event; bigger ones are refused at publish()
_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_HEARTBEAT = b": keep-alive\n\n"  # a comment line (9.2.6: lines starting with ":" are ignored)


def _check_field(value, name):
    # 9.2.5: a field value ends at CR or LF, so event names and ids must not contain them;
    # an id with NUL is ignored by browsers (9.2.6 "id" field).
    if "\n" in value or "\r" in value or (name == "id" and "\0" in value):
        raise ValueError("line break in SSE " + name)


def format_event(data, event=None, id=None, retry=None):
    """One event as bytes: ``event:``, ``id:``, ``retry:`` and one ``data:`` line per line of
    ``data`` (CRLF, CR and LF all split lines, 9.2.6), ended by a blank line."""
    lines = []
    if event is not None:
        _check_field(event, "event")
        lines.append("event: " + event + "\n")
    if id is not None:
        _check_field(id, "id")
        lines.append("id: " + id + "\n")
    if retry is not None:
        lines.append("retry: %d\n" % retry)
    if data is not None:
        if not isinstance(data, str):
            data = str(data, "utf-8")  # the stream is always UTF-8 (9.2.5)
        for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            lines.append("data: " + line + "\n")
    lines.append("\n")
    return "".join(lines).encode()


async def _until_eof(reader, stream):
    # A page that goes away (a reload, a closed tab) closes its connection: the socket reads
    # EOF. Without this watch its stream would hold the connection's memory until the next
    # heartbeat write fails, and a reloading phone on a short heap would wait for room that
    # long. Anything a client sends on an event stream is discarded.
    # (When the stream ends first it cancels this watch: CancelledError is not an Exception.)
    scratch = memoryview(bytearray(16))
    try:
        while await compat.readinto(reader, scratch):
            pass
    except Exception:  # a reset
        pass
    stream.cancel()


def _new_epoch():
    import os

    return "%04x" % (int.from_bytes(os.urandom(2), "big"))


class EventHub:
    """Events shared by many SSE clients, with a bounded replay buffer.

    ``history``: events kept for Last-Event-ID replay. ``heartbeat``: seconds between comment
    lines on an idle stream. ``retry``: reconnection delay (ms) sent to browsers, or None.
    ``max_clients``: streams served at once (more get 503)."""

    def __init__(self, history=16, heartbeat=15, retry=None, max_clients=8):
        self.history = history
        self.heartbeat_ms = int(heartbeat * 1000)
        self.retry = retry
        self.max_clients = max_clients
        self.clients = 0
        self.epoch = _new_epoch()
        self._ring = [None] * history  # encoded events; seq n lives at n % history
        self._seq = 0  # seq of the newest event (0: none yet)
        self._streams = compat.Waiters()  # streams waiting for an event or their heartbeat

    def publish(self, data, event=None):
        """Queue an event for every client; returns its id. Never blocks, never raises on
        slow or gone clients (each stream catches up from the ring on its own). It allocates,
        so call it from a task or a ``micropython.schedule`` callback, not a hard interrupt."""
        seq = self._seq + 1
        event_id = "%s.%d" % (self.epoch, seq)
        encoded = format_event(data, event, event_id)
        if len(encoded) > MAX_EVENT:
            raise ValueError("SSE event too big")
        self._ring[seq % self.history] = encoded
        self._seq = seq
        self._streams.wake_all()
        return event_id

    def _resume_seq(self, last_id):
        """The seq a reconnecting client has seen, or -1 when its gap cannot be filled."""
        if last_id is None:
            return self._seq  # a new client: live events only
        dot = last_id.find(".")
        if dot < 0 or last_id[:dot] != self.epoch:
            return -1  # another boot's id: our replay cannot help
        try:
            seen = int(last_id[dot + 1:])
        except ValueError:
            return -1
        if seen > self._seq or seen < self._seq - self.history:
            return -1
        return seen

    def response(self, request):
        """A streaming response (with the connection takeover) for ``request``."""
        from microhttp.response import Response

        if self.clients >= self.max_clients:
            return Response("too many event streams", 503, {"Retry-After": "5"})
        response = Response(None, 200, _HEADERS)  # no body framing: events follow the head
        response.takeover = self._serve
        return response

    async def _serve(self, request):
        writer = request.writer
        seen = self._resume_seq(request.headers.get("Last-Event-ID"))
        watch = asyncio.create_task(_until_eof(request.reader, asyncio.current_task()))
        request = None  # a stream may last hours: its request's head is garbage from here on
        self.clients += 1
        try:
            if self.retry is not None:
                compat.write(writer, format_event(None, retry=self.retry))
            quiet = ticks_ms()  # since when nothing was written
            while True:
                if seen < 0 or seen < self._seq - self.history:
                    # Missed more than the ring holds (or a stale id): tell the page to refetch.
                    compat.write(writer, format_event("", "resync", "%s.%d" % (self.epoch, self._seq)))
                    seen = self._seq
                if seen < self._seq:
                    seen += 1
                    compat.write(writer, self._ring[seen % self.history])
                    if seen < self._seq:
                        continue  # write the whole backlog, then drain once
                    await writer.drain()
                    quiet = ticks_ms()
                    continue
                left = self.heartbeat_ms - ticks_diff(ticks_ms(), quiet)
                if left > 0:
                    await self._streams.wait_ms(left)  # until then, or an event (publish)
                    continue
                compat.write(writer, _HEARTBEAT)
                await writer.drain()
                quiet = ticks_ms()
        except OSError:  # a write to a gone client (reset, broken pipe): end this stream
            pass
        finally:
            self.clients -= 1
            watch.cancel()


def stream(request, source):
    """A streaming response sending each item of async iterator ``source`` (``data`` or
    ``(data, event)``) to this client only; no replay."""
    from microhttp.response import Response

    async def run(request):
        writer = request.writer
        async for item in source:
            if isinstance(item, tuple):
                compat.write(writer, format_event(item[0], item[1]))
            else:
                compat.write(writer, format_event(item))
            await writer.drain()

    response = Response(b"", 200, _HEADERS)
    response.takeover = run
    return response
