"""microhttp.sse over real sockets on both runtimes: a streaming client that parses the event
stream as WHATWG HTML 9.2.6 says, disconnects, reconnects with Last-Event-ID and must receive
exactly the missed events; resync past the ring; heartbeats; dropped clients; the stream cap."""

import socket
import time

import httpx
import launch
import pytest

CPYTHON_ONLY = True
WAIT = 10


@pytest.fixture(scope="module", params=launch.RUNTIMES)
def server(request):
    with launch.serve_app(request.param, "ext_sse_app.py", heapsize="512k") as proc:
        yield proc


class EventStream:
    """A minimal EventSource: raw socket, incremental line parsing, comment counting."""

    def __init__(self, port, last_event_id=None, path="/events"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        req = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" % path.encode()
        if last_event_id is not None:
            req += b"Last-Event-ID: " + last_event_id.encode() + b"\r\n"
        self.sock.sendall(req + b"\r\n")
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed during the head"
            self.buf += chunk
        self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(self.head.split(b" ", 2)[1])
        self.comments = 0
        self.retry = None
        self.last_id = last_event_id

    def header(self, name):
        for line in self.head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == name.lower().encode():
                return v.strip().decode()
        return None

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def next_event(self):
        """The next dispatched event as a dict (data, event, id)."""
        ev = {}
        data = []
        while True:
            line = self._line()
            if line == "":
                if data:
                    ev["data"] = "\n".join(data)
                    if "id" in ev:
                        self.last_id = ev["id"]
                    return ev
                ev = {}
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "retry":
                self.retry = int(value)
            else:
                ev[name] = value

    def close(self):
        self.sock.close()


def publish(server, data, event=None):
    params = {"event": event} if event else {}
    return httpx.post(server.url + "/publish", content=data, params=params, timeout=WAIT).json()["id"]


def wait_clients(server, n, hub=""):
    deadline = time.monotonic() + WAIT
    while httpx.get(server.url + hub + "/clients", timeout=WAIT).json()["clients"] != n:
        assert time.monotonic() < deadline, "hub never reached %d clients" % n
        time.sleep(0.05)


def test_stream_head_and_live_events(server):
    wait_clients(server, 0)
    es = EventStream(server.port)
    assert es.status == 200
    assert es.header("content-type") == "text/event-stream"
    assert es.header("cache-control") == "no-cache"
    assert es.header("content-length") is None and es.header("transfer-encoding") is None
    wait_clients(server, 1)
    ids = [publish(server, "line one\nline two", "state"), publish(server, "plain")]
    assert es.next_event() == {"event": "state", "id": ids[0], "data": "line one\nline two"}
    assert es.next_event() == {"id": ids[1], "data": "plain"}
    assert es.retry == 500
    es.close()
    wait_clients(server, 0)  # noticed through a failing heartbeat write


def test_reconnect_with_last_event_id_gets_exactly_the_missed_events(server):
    wait_clients(server, 0)
    es = EventStream(server.port)
    wait_clients(server, 1)
    publish(server, "a")
    publish(server, "b")
    assert [es.next_event()["data"] for _ in range(2)] == ["a", "b"]
    es.close()
    wait_clients(server, 0)
    missed = [publish(server, "missed %d" % i) for i in range(4)]  # history is 5
    es2 = EventStream(server.port, last_event_id=es.last_id)
    got = [es2.next_event() for _ in range(4)]
    assert [e["data"] for e in got] == ["missed %d" % i for i in range(4)]
    assert [e["id"] for e in got] == missed
    live = publish(server, "live again")
    nxt = es2.next_event()
    assert nxt == {"id": live, "data": "live again"}  # no duplicate replay before it
    es2.close()
    wait_clients(server, 0)


def test_gap_beyond_the_ring_sends_resync_then_live_events(server):
    wait_clients(server, 0)
    es = EventStream(server.port)
    wait_clients(server, 1)
    publish(server, "seen")
    es.next_event()
    es.close()
    wait_clients(server, 0)
    newest = [publish(server, "lost %d" % i) for i in range(7)][-1]
    es2 = EventStream(server.port, last_event_id=es.last_id)
    first = es2.next_event()
    assert first["event"] == "resync" and first["id"] == newest
    live = publish(server, "after resync")
    assert es2.next_event() == {"id": live, "data": "after resync"}
    es2.close()
    # A reconnect with an id from another boot (another prefix) also resyncs.
    es3 = EventStream(server.port, last_event_id="zzzz.3")
    assert es3.next_event()["event"] == "resync"
    es3.close()
    wait_clients(server, 0)


def test_idle_stream_carries_heartbeat_comments(server):
    wait_clients(server, 0)
    es = EventStream(server.port)
    es.sock.settimeout(WAIT)
    while es.comments < 3:  # heartbeat every 0.2 s; only comments arrive on an idle stream
        line = es._line()
        if line.startswith(":"):
            es.comments += 1
        else:
            assert line == "" or line.startswith("retry:"), line
    es.close()
    wait_clients(server, 0)


def test_stream_cap_answers_503(server):
    wait_clients(server, 0)
    streams = [EventStream(server.port) for _ in range(3)]
    wait_clients(server, 3)
    extra = EventStream(server.port)
    assert extra.status == 503 and extra.header("retry-after") == "5"
    extra.close()
    for s in streams:
        s.close()
    wait_clients(server, 0)


def test_a_closed_connection_ends_its_stream_without_waiting_for_a_heartbeat(server):
    # The quiet hub writes nothing for an hour, so only the EOF of the closed socket can tell
    # the server this client left (a reloaded page frees its stream's memory at once).
    es = EventStream(server.port, path="/quiet")
    assert es.status == 200
    wait_clients(server, 1, "/quiet")
    es.close()
    wait_clients(server, 0, "/quiet")
