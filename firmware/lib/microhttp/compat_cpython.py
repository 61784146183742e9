# microhttp.compat_cpython: the CPython half of microhttp.compat (host tests and tools only;
# a board never imports it). CPython's StreamReader has no readinto, and its transport may
# keep a reference to written data, so writes are copied.
import asyncio
import sys
import traceback

try:
    from time import ticks_add, ticks_diff, ticks_ms  # the test shims provide these
except ImportError:
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_add(t, d):
        return t + d

    def ticks_diff(a, b):
        return a - b


async def _c():
    pass


_x = _c()
CORO = type(_x)
_x.close()


def sleep_ms(ms):
    return asyncio.sleep(ms / 1000)


def print_exception(e, f=sys.stdout):
    traceback.print_exception(type(e), e, e.__traceback__, file=f)


async def readinto(r, mv):
    d = await r.read(len(mv))
    mv[: len(d)] = d
    return len(d)


def write(w, b):
    w.write(bytes(b))


def nodelay(w):
    import socket

    s = w.get_extra_info("socket")
    if s is not None:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def listen(cb, host, port, backlog):
    s = await asyncio.start_server(cb, host, port, backlog=backlog)
    s.cancel = s.close  # stop listening, like cancelling MicroPython's accept task
    return s


async def close(w):
    try:
        w.close()
        await w.wait_closed()
    except Exception:
        pass
