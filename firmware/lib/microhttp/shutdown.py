# microhttp.shutdown: Server.close(), wait_closed() and App.run(), loaded when a server is
# closed, waited for or run until closed.
import asyncio

from microhttp import compat
from microhttp.compat import ticks_add, ticks_diff, ticks_ms
from microhttp.server import _idle


async def close(srv, timeout):
    if srv.closing:
        return
    srv.closing = True
    srv._l.cancel()
    t = ticks_add(ticks_ms(), int(timeout * 1000))
    while srv.conns:
        late = ticks_diff(ticks_ms(), t) > 0
        for c in srv.conns:
            if late or _idle(c):
                c.task.cancel()
        await compat.sleep_ms(10)
    srv._reaper.cancel()
    srv.closed = True
    if srv._done:
        srv._done.set()


async def wait_closed(srv):
    if not srv.closed:
        if srv._done is None:
            srv._done = asyncio.Event()
        await srv._done.wait()


def run(app, host, port, limits):
    # App.run(): serve until the server is closed (blocking).
    async def main():
        s = await app.start(host, port, **limits)
        await s.wait_closed()

    asyncio.run(main())
