"""Live updates against the board's address: server-sent events from the firmware, and
microhttp's WebSocket extension running on the board itself."""

import json
import socket
import time

import httpx
import pytest
from websockets.sync.client import connect

from tools.vboard.supervisor import free_port

WS_APP = """
import asyncio
from microhttp import App
from microhttp.websocket import ConnectionClosed, websocket
app = App()

@app.get("/echo")
@websocket(max_message=1024)
async def echo(request, ws):
    try:
        while True:
            await ws.send(await ws.receive())
    except ConnectionClosed:
        pass

async def main():
    await app.start({host!r}, {port})
    while True:
        await asyncio.sleep(3600)

asyncio.run(main())
"""


class EventStream:
    """A raw GET /api/events: the test reads what the board sends, nothing buffered by a client."""

    def __init__(self, device):
        host, port = device.http.split("//")[1].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: board\r\nAccept: text/event-stream\r\n\r\n")
        self.data = b""

    def wait_for(self, event, predicate, timeout=15):
        """The first `event:` block whose JSON data satisfies predicate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for block in self.data.replace(b"\r\n", b"\n").split(b"\n\n"):
                fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
                if fields.get(b"event") == event.encode():
                    data = json.loads(fields.get(b"data", b"null"))
                    if predicate(data):
                        return data
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            self.data += chunk
        raise AssertionError("no %r event within %s s; stream so far:\n%s" % (event, timeout, self.data.decode(errors="replace")))

    def close(self):
        self.sock.close()


@pytest.fixture
def events(firmware):
    stream = EventStream(firmware)
    yield stream
    stream.close()


def test_sse_pushes_a_command_result(firmware, events):
    r = httpx.post(firmware.http + "/api/devices/led", json={"on": True}, timeout=10)
    assert r.status_code == 200
    data = events.wait_for("state", lambda d: d.get("name") == "led" and d["state"].get("on") is True)
    assert data["state"]["on"] is True
    assert events.data.startswith(b"HTTP/1.1 200")
    assert b"text/event-stream" in events.data.split(b"\r\n\r\n")[0].lower()


def test_sse_pushes_a_button_press(virtual_only, firmware, events):
    button = next(d for d in firmware.spec["devices"] if d["kind"] == "button")
    firmware.control.press(button["name"], ms=120, bounce=2, bounce_us=2000)
    data = events.wait_for("button", lambda d: d.get("name") == button["name"] and d.get("event") == "click")
    assert data["state"]["presses"] >= 1


def test_websocket_echo_on_the_board(device):
    host = "127.0.0.1" if device.virtual else "0.0.0.0"
    port = free_port() if device.virtual else 8081
    if device.host is None:
        pytest.skip("the board's address is unknown: pass --host (and --config with its Wi-Fi)")
    device.start_on_board(WS_APP.format(host=host, port=port))
    url = "ws://%s:%d/echo" % (device.host, port)
    deadline = time.monotonic() + 30
    while True:
        try:
            ws = connect(url, open_timeout=5, close_timeout=5)
            break
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with ws:
        for msg in ("hello", "x" * 1000, b"\x00\x01binary\xff"):
            ws.send(msg)
            assert ws.recv(timeout=10) == msg
    # The firmware stays stopped; the next test that needs it resets the board (conftest).
