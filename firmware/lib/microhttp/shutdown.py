# microhttp.shutdown: Server.close(), loaded when a server is closed.
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
    srv._done.set()
