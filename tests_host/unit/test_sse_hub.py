"""SSE encoding and the EventHub's ring buffer / Last-Event-ID replay, in process.

Shared: runs on CPython and the MicroPython unix port. Streams write into an in-memory writer;
tests_host/live/test_sse_live.py drives the same hub over real sockets.
"""

import asyncio

from microhttp.sse import EventHub, format_event
from support import FakeRequest, raises, run


class Writer:
    """Collects what a stream writes; ``gone`` makes drain() fail like a reset socket."""

    def __init__(self):
        self.data = b""
        self.gone = False

    def write(self, b):
        self.data += bytes(b)

    async def drain(self):
        await asyncio.sleep(0)
        if self.gone:
            raise OSError(104, "ECONNRESET")


class Reader:
    """A client that sends nothing: reads wait until ``close()``, then see EOF. ``waiting``
    counts the reads in progress."""

    def __init__(self):
        self.eof = asyncio.Event()
        self.waiting = 0

    async def read(self, n):  # CPython's StreamReader (microhttp.compat_cpython.readinto)
        self.waiting += 1
        try:
            await self.eof.wait()
            return b""
        finally:
            self.waiting -= 1

    async def readinto(self, mv):  # MicroPython's Stream
        return len(await self.read(len(mv)))

    def close(self):
        self.eof.set()


class Request(FakeRequest):
    def __init__(self, headers=None):
        FakeRequest.__init__(self, headers=headers)
        self.writer = Writer()
        self.reader = Reader()


def parse(stream):
    """Events of an event stream as dicts, per WHATWG HTML 9.2.6 (comments skipped)."""
    events = []
    for block in stream.decode().split("\n\n")[:-1]:
        ev = {}
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            ev[name] = ev[name] + "\n" + value if name in ev else value
        if ev:
            events.append(ev)
    return events


def test_format_event_fields_and_multiline_data():
    assert format_event("hi") == b"data: hi\n\n"
    assert format_event("a\nb\r\nc\rd", event="state", id="7", retry=2500) == \
        b"event: state\nid: 7\nretry: 2500\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    assert format_event("") == b"data: \n\n"
    assert parse(format_event("x\ny", "e", "1")) == [{"event": "e", "id": "1", "data": "x\ny"}]


def test_format_event_refuses_line_breaks_in_event_and_id():
    with raises(ValueError):
        format_event("x", event="a\nb")
    with raises(ValueError):
        format_event("x", id="1\r")
    with raises(ValueError):
        format_event("x", id="1\0")


def test_publish_refuses_oversize_events():
    hub = EventHub()
    with raises(ValueError, "too big"):
        hub.publish("x" * 2000)


async def _serve_for(hub, request, until):
    task = asyncio.create_task(hub._serve(request))
    for _ in range(200):
        await asyncio.sleep(0)
        if until(request):
            break
    request.writer.gone = True
    hub.publish("bye")  # wakes the stream, whose next drain fails: it must end cleanly
    for _ in range(200):
        await asyncio.sleep(0)
        if task.done():
            break
    assert task.done(), "stream did not end after its client went away"
    for _ in range(5):
        await asyncio.sleep(0)
    assert request.reader.waiting == 0, "the stream's end left its EOF watch reading"
    return parse(request.writer.data)


def test_live_events_reach_every_client_and_gone_clients_are_dropped():
    async def main():
        hub = EventHub(history=4, heartbeat=60)
        a, b = Request(), Request()
        ta = asyncio.create_task(hub._serve(a))
        tb = asyncio.create_task(hub._serve(b))
        await asyncio.sleep(0)
        assert hub.clients == 2
        ids = [hub.publish("event %d" % i, event="n") for i in range(3)]
        for _ in range(20):
            await asyncio.sleep(0)
        assert [e["data"] for e in parse(a.writer.data)] == ["event 0", "event 1", "event 2"]
        assert [e["id"] for e in parse(b.writer.data)] == ids
        b.writer.gone = True
        hub.publish("after b left")
        for _ in range(20):
            await asyncio.sleep(0)
        assert tb.done() and hub.clients == 1
        assert parse(a.writer.data)[-1]["data"] == "after b left"
        ta.cancel()
        try:
            await ta
        except asyncio.CancelledError:
            pass
        assert hub.clients == 0

    run(main())


def test_last_event_id_replays_exactly_the_missed_events():
    async def main():
        hub = EventHub(history=8, heartbeat=60)
        ids = [hub.publish("e%d" % i) for i in range(6)]
        req = Request({"Last-Event-ID": ids[2]})
        got = await _serve_for(hub, req, lambda r: len(parse(r.writer.data)) >= 3)
        assert [e["data"] for e in got[:3]] == ["e3", "e4", "e5"]
        assert [e["id"] for e in got[:3]] == ids[3:]

    run(main())


def test_gap_larger_than_the_ring_or_foreign_id_sends_resync():
    async def main():
        def filled():
            hub = EventHub(history=4, heartbeat=60)
            return hub, [hub.publish("e%d" % i) for i in range(10)]

        cases = (
            lambda hub, ids: ids[1],  # seq 2 of 10, but the ring holds only 7..10
            lambda hub, ids: "zzzz.9",  # another boot's id (epochs are hex)
            lambda hub, ids: "garbage",
            lambda hub, ids: hub.epoch + ".99",  # from the future
        )
        for case in cases:
            hub, ids = filled()
            last = case(hub, ids)
            got = await _serve_for(hub, Request({"Last-Event-ID": last}), lambda r: b"resync" in r.writer.data)
            assert got[0]["event"] == "resync", (last, got)
            assert got[0]["id"] == ids[-1]  # after a resync the browser resumes from the newest
        # The oldest id still replayable: exactly the 4 events in the ring, no resync.
        hub, ids = filled()
        got = await _serve_for(hub, Request({"Last-Event-ID": ids[5]}), lambda r: len(parse(r.writer.data)) >= 4)
        assert [e["data"] for e in got[:4]] == ["e6", "e7", "e8", "e9"]

    run(main())


def test_idle_stream_gets_comment_heartbeats_and_retry_field():
    async def main():
        hub = EventHub(heartbeat=0.01, retry=1500)
        req = Request()
        task = asyncio.create_task(hub._serve(req))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if req.writer.data.count(b": keep-alive") >= 2:
                break
        assert req.writer.data.startswith(b"retry: 1500\n\n")
        assert req.writer.data.count(b": keep-alive\n\n") >= 2
        assert parse(req.writer.data) == [{"retry": "1500"}]  # comments are not events
        req.writer.gone = True
        for _ in range(100):
            await asyncio.sleep(0.01)
            if task.done():
                break
        assert task.done() and hub.clients == 0  # detected through the next heartbeat

    run(main())


def test_a_client_that_closes_its_connection_ends_its_stream_at_once():
    # A reload or a closed tab: EOF on the socket. The stream ends now, not at the next
    # heartbeat (an hour away here) or event, so its memory is free for the reloaded page.
    async def main():
        hub = EventHub(heartbeat=3600)
        req = Request()
        task = asyncio.create_task(hub._serve(req))
        for _ in range(5):
            await asyncio.sleep(0)
        assert hub.clients == 1 and req.reader.waiting == 1 and not task.done()
        req.reader.close()
        for _ in range(50):
            await asyncio.sleep(0)
            if task.done():
                break
        assert task.done() and hub.clients == 0 and req.reader.waiting == 0

    run(main())
