# microhttp.compat: every difference between MicroPython and CPython, decided once at import.
#
# MicroPython's asyncio Stream is one object for reading and writing; it has readinto, its
# write() sends at once (so two writes are two TCP segments), drain() always yields, close()
# does nothing and wait_closed() closes the socket. CPython's StreamReader has no readinto and
# its transport may keep a reference to written data, so writes are copied there.
import sys

import asyncio

MICROPYTHON = sys.implementation.name == "micropython"

try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:  # plain CPython (the test shims normally provide these)
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_add(t, d):
        return t + d

    def ticks_diff(a, b):
        return a - b


def _errnos():
    # Errors that end only their own connection. MicroPython has no OSError subclasses, so
    # they are matched by errno; the values differ per port (lwIP, newlib), so take them from
    # the port's own errno module, plus Linux's EPIPE, which the unix port's module lacks.
    import errno

    s = {32}
    for n in ("ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT", "EBADF", "ENOTCONN", "ESHUTDOWN"):
        v = getattr(errno, n, None)
        if v is not None:
            s.add(v)
    return s


GONE = _errnos()


def gone(e):
    """Whether OSError ``e`` means the peer went away (end that connection quietly)."""
    return (e.args and e.args[0] in GONE) or (not MICROPYTHON and isinstance(e, ConnectionError))


async def _coro():
    pass


_c = _coro()
CORO = type(_c)  # on MicroPython this is "generator": async handlers return one
if hasattr(_c, "close"):
    _c.close()
del _c


def nodelay(w):
    """Disable Nagle's algorithm where the port supports it (best effort; we coalesce too)."""
    try:
        s = w.s if MICROPYTHON else w.get_extra_info("socket")
        s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY (not exported by every port)
    except Exception:
        pass


def peer(w):
    try:
        return w.get_extra_info("peername")
    except Exception:
        return None


if MICROPYTHON:
    from asyncio import sleep_ms
    from sys import print_exception

    async def readinto(r, mv):
        return await r.readinto(mv)

    def write(w, mv):
        w.write(mv)

    async def listen(cb, host, port, backlog):
        """Start accepting; returns an object with close().

        Our own accept loop instead of asyncio.start_server, whose loop dies for good when
        creating the connection's Stream or task raises MemoryError. It waits on the socket
        with asyncio.core's I/O queue, exactly as asyncio.stream does (checked on 1.22-1.25).
        """
        import socket

        ai = socket.getaddrinfo(host, port)[0]
        s = socket.socket(ai[0])
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(ai[-1])
        s.listen(backlog)
        return _Listener(s, cb)

    class _Listener:
        def __init__(self, s, cb):
            self.s = s
            self.task = asyncio.create_task(self._run(cb))

        async def _run(self, cb):
            from asyncio import core

            s = self.s
            try:
                while True:
                    yield core._io_queue.queue_read(s)
                    try:
                        c, a = s.accept()
                    except Exception:
                        continue
                    try:
                        c.setblocking(False)
                        st = asyncio.StreamReader(c, {"peername": a})
                        asyncio.create_task(cb(st, st))
                    except MemoryError:
                        c.close()
                        import gc

                        gc.collect()
            finally:
                s.close()

        def close(self):
            self.task.cancel()

else:
    import traceback

    def sleep_ms(ms):
        return asyncio.sleep(ms / 1000)

    def print_exception(e, f=sys.stdout):
        traceback.print_exception(type(e), e, e.__traceback__, file=f)

    async def readinto(r, mv):
        d = await r.read(len(mv))
        mv[: len(d)] = d
        return len(d)

    def write(w, mv):
        w.write(bytes(mv))

    async def listen(cb, host, port, backlog):
        return await asyncio.start_server(cb, host, port, backlog=backlog)


async def close(w):
    try:
        w.close()
        await w.wait_closed()
    except Exception:
        pass
