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

    def ticks_add(ticks, delta):
        return ticks + delta

    def ticks_diff(later, earlier):
        return later - earlier


async def _probe():
    pass


_coroutine = _probe()
CORO = type(_coroutine)
_coroutine.close()


def sleep_ms(ms):
    return asyncio.sleep(ms / 1000)


def wait_for_ms(awaitable, ms):
    return asyncio.wait_for(awaitable, ms / 1000)


class Waiters:
    """Tasks that sleep until a deadline, which wake() or wake_all() brings forward."""

    def __init__(self):
        self.futures = []  # in the order their tasks started waiting

    async def wait_ms(self, ms):
        future = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        try:
            await asyncio.wait_for(future, ms / 1000)
        except asyncio.TimeoutError:
            pass
        finally:
            self.futures.remove(future)

    def wake(self, every=False):
        for future in self.futures:
            if not future.done():
                future.set_result(None)
                if not every:
                    return

    def wake_all(self):
        self.wake(True)


_room = Waiters()
wait_ms = _room.wait_ms
wake = _room.wake


def print_exception(error, file=None):
    sys.excepthook(type(error), error, error.__traceback__)  # to stderr (no traceback module on a board)


async def readinto(reader, buffer):
    data = await reader.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)


def write(writer, data):
    writer.write(bytes(data))


async def linger(reader, writer, scratch, ms, quiet_ms, most):
    # What compat.linger does on MicroPython, after a half-close, which there is here: the
    # client reads our answer to its end and closes its side (RFC 9112 section 9.6).
    loop = asyncio.get_running_loop()
    until = loop.time() + ms / 1000
    try:
        if hasattr(writer, "can_write_eof") and writer.can_write_eof():
            writer.write_eof()
        while most > 0:
            data = await asyncio.wait_for(reader.read(min(most, 4096)), min(quiet_ms / 1000, until - loop.time()))
            if not data:
                return
            most -= len(data)
    except Exception:
        pass  # quiet, reset or closed: nothing left to protect


async def recvfrom(sock, size):
    """The next datagram on a non-blocking UDP socket and its sender's address."""
    return await asyncio.get_running_loop().sock_recvfrom(sock, size)


def utf8(text):
    return text.encode()


def nodelay(writer):
    try:
        writer.get_extra_info("socket").setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
    except (AttributeError, OSError):
        pass  # not a TCP socket (a test stream, a Unix socket)


def mem_free():
    return 1 << 30  # no heap limit here: room() always finds room


async def listen(handler, host, port, backlog, room):
    # room() is not asked: start_server accepts on its own, and CPython has no heap limit.
    server = await asyncio.start_server(handler, host, port, backlog=backlog)
    server.cancel = server.close  # stop listening, like cancelling MicroPython's accept task
    return server


def close(writer):
    try:
        writer.close()  # the transport closes soon after; nothing waits for it
    except Exception:
        pass
