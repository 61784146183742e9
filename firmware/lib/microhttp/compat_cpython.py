# mypy: ignore-errors
# (type-checked against the boards' stubs like all firmware, but this file never runs there)
# microhttp.compat_cpython: the CPython half of microhttp.compat (host tests and tools only;
# a board never imports it). CPython's StreamReader has no readinto, and its transport may
# keep a reference to written data, so writes are copied.
import asyncio
import sys

try:
    from time import ticks_add, ticks_diff, ticks_ms  # tools/sim/cpython_runtime.py provides these
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


def wait_for_ms(awaitable, ms):
    return asyncio.wait_for(awaitable, ms / 1000)


class Waiters:
    """Tasks that sleep until a deadline, which wake() or wake_all() brings forward."""

    def __init__(self):
        self.futures = []  # in the order their tasks started waiting

    async def wait_ms(self, ms):
        f = asyncio.get_running_loop().create_future()
        self.futures.append(f)
        try:
            await asyncio.wait_for(f, ms / 1000)
        except asyncio.TimeoutError:
            pass
        finally:
            self.futures.remove(f)

    def wake(self, every=False):
        for f in self.futures:
            if not f.done():
                f.set_result(None)
                if not every:
                    return

    def wake_all(self):
        self.wake(True)


_room = Waiters()
wait_ms = _room.wait_ms
wake = _room.wake


def print_exception(e, f=None):
    sys.excepthook(type(e), e, e.__traceback__)  # to stderr (no traceback module on a board)


async def readinto(r, mv):
    d = await r.read(len(mv))
    mv[: len(d)] = d
    return len(d)


def write(w, b):
    w.write(bytes(b))


async def linger(r, w, scratch, ms, quiet_ms, most):
    # What compat.linger does on MicroPython, after a half-close, which there is here: the
    # client reads our answer to its end and closes its side (RFC 9112 section 9.6).
    loop = asyncio.get_running_loop()
    until = loop.time() + ms / 1000
    try:
        if hasattr(w, "can_write_eof") and w.can_write_eof():
            w.write_eof()
        while most > 0:
            data = await asyncio.wait_for(r.read(min(most, 4096)), min(quiet_ms / 1000, until - loop.time()))
            if not data:
                return
            most -= len(data)
    except Exception:
        pass  # quiet, reset or closed: nothing left to protect


def nodelay(w):
    try:
        w.get_extra_info("socket").setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
    except (AttributeError, OSError):
        pass  # not a TCP socket (a test stream, a Unix socket)


def mem_free():
    return 1 << 30  # no heap limit here: room() always finds room


async def listen(cb, host, port, backlog, room):
    # room() is not asked: start_server accepts on its own, and CPython has no heap limit.
    s = await asyncio.start_server(cb, host, port, backlog=backlog)
    s.cancel = s.close  # stop listening, like cancelling MicroPython's accept task
    return s


async def close(w):
    try:
        w.close()
        await w.wait_closed()
    except Exception:
        pass
