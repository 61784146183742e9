"""Broadcast hub for microhttp.websocket (also importable as ``microhttp.websocket.Hub``).

    hub = Hub(max_clients=8)
    await hub.serve(ws)          # in a websocket handler: join, read until the client leaves
    await hub.broadcast("msg")   # -> number of clients reached
    hub.publish("msg")           # from synchronous code: schedules a broadcast

A client that is closed, fails, or does not take a message within ``send_timeout`` seconds is
dropped (and its connection aborted); no error ever reaches the caller, so a phone that left
without a close frame cannot break a broadcast (the EBADF failure of microdot#96).
"""

import asyncio

from microhttp.websocket import ConnectionClosed


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
        """Join, then read until the client leaves; ``await on_message(ws, msg)`` per message.
        A full hub closes the new connection with 1008 (policy, RFC 6455 7.4.1)."""
        if not self.add(ws):
            await ws.close(1008, "too many clients")
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
        text = isinstance(data, str)
        payload = data.encode() if text else data  # encoded once for all clients
        sent = 0
        for ws in list(self._clients):
            if ws.closed:
                self.discard(ws)
                continue
            try:
                await _wait(ws._write(1 if text else 2, payload), self.send_timeout)
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


def _wait(coro, seconds):
    return asyncio.wait_for(coro, seconds)
