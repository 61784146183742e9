# microhttp.shutdown: Server.close() and wait_closed(), loaded when a server is closed or
# waited for.
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
