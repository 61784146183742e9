"""The WebSocket broadcast hub with stand-in connections, in process (both runtimes):
dead, failing and too-slow clients are dropped without an error reaching the caller;
publish() from synchronous code is bounded."""

import asyncio

from microhttp.websocket import ConnectionClosed, Hub
from support import run


class FakeWS:
    def __init__(self, mode="ok"):
        self.mode = mode
        self.closed = mode == "closed"
        self.sent = []
        self.aborted = False

    async def _write(self, op, payload):
        if self.mode == "reset":
            raise ConnectionClosed(1006, "connection lost")
        if self.mode == "oserror":
            raise OSError(104)
        if self.mode == "stuck":
            await asyncio.sleep(60)
        self.sent.append((op, bytes(payload)))

    def abort(self):
        self.aborted = True
        self.closed = True


def test_broadcast_reaches_live_clients_and_drops_the_rest():
    async def main():
        hub = Hub(max_clients=8, send_timeout=0.05)
        good = [FakeWS(), FakeWS()]
        bad = [FakeWS("reset"), FakeWS("oserror"), FakeWS("stuck")]
        for ws in good + bad:
            assert hub.add(ws)
        closed = FakeWS("closed")
        assert not hub.add(closed)  # a closed connection never joins
        assert len(hub) == 5
        assert await hub.broadcast("héllo") == 2
        assert len(hub) == 2
        assert all(ws.aborted for ws in bad)
        assert good[0].sent == [(1, "héllo".encode())]  # text frame, encoded once
        assert await hub.broadcast(b"\x00\x01") == 2
        assert good[1].sent[-1] == (2, b"\x00\x01")  # binary frame
        good[0].closed = True  # went away between broadcasts
        assert await hub.broadcast("x") == 1 and len(hub) == 1

    run(main())


def test_hub_is_bounded_and_add_is_idempotent():
    hub = Hub(max_clients=2)
    a, b, c = FakeWS(), FakeWS(), FakeWS()
    assert hub.add(a) and hub.add(a) and hub.add(b)
    assert not hub.add(c) and len(hub) == 2
    hub.discard(a)
    hub.discard(a)
    assert hub.add(c) and len(hub) == 2


def test_publish_from_sync_code_is_bounded_and_delivers():
    async def main():
        hub = Hub(max_pending=2)
        ws = FakeWS()
        hub.add(ws)
        assert hub.publish("one") and hub.publish("two")
        assert not hub.publish("three")  # two broadcasts already queued: dropped, not queued
        for _ in range(10):
            await asyncio.sleep(0)
        assert [p for _, p in ws.sent] == [b"one", b"two"]
        assert hub.publish("four")  # the queue drained
        for _ in range(10):
            await asyncio.sleep(0)
        assert ws.sent[-1] == (1, b"four")

    run(main())
