# microhttp.compat: every difference between MicroPython and CPython, decided once at import.
#
# MicroPython's asyncio Stream is one object for reading and writing; it has readinto, its
# write() sends at once (so two writes are two TCP segments), drain() always yields, close()
# does nothing and wait_closed() closes the socket. The CPython side lives in compat_cpython,
# so a board never loads (or stores in RAM) code it cannot run.
import asyncio
import errno
import sys

MICROPYTHON = sys.implementation.name == "micropython"
# Bytes per pointer: an object on a 64-bit build (the unix port) is about twice the size it
# has on a 32-bit board. sys.maxsize is missing on ports built with only the core features.
WORD = 8 if getattr(sys, "maxsize", 0) > 1 << 32 else 4
# The unix port or CPython: the firmware runs on a simulated board, on this machine.
SIMULATED = sys.platform in ("linux", "darwin", "win32")


# Errors that end only their own connection. MicroPython has no OSError subclasses, so they
# are matched by errno; the values differ per port (lwIP, newlib), so take them from the port's
# own errno module, plus Linux's EPIPE (32), which the unix port's module lacks.
GONE = {32}
for _name in ("ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT", "EBADF", "ENOTCONN"):
    GONE.add(getattr(errno, _name, 32))


def gone(error):
    """Whether OSError ``error`` means the peer went away (end that connection quietly)."""
    return error.args and error.args[0] in GONE or not MICROPYTHON and isinstance(error, ConnectionError)


if MICROPYTHON:

    def close(writer):
        # Not Stream.wait_closed(), which only closes the socket, but allocates a coroutine
        # to do it: that fails when the heap is exhausted, and would leave the socket open.
        try:
            writer.s.close()
        except Exception:
            pass

    from asyncio import sleep_ms  # noqa: F401 (re-exported)

    def wait_for_ms(awaitable, ms):
        # asyncio.wait_for_ms is in asyncio.funcs, which asyncio loads on first use.
        return getattr(asyncio, "wait_for_ms")(awaitable, ms)  # absent from the stubs

    from gc import mem_free  # noqa: F401 (re-exported)
    from sys import print_exception  # noqa: F401 (re-exported)
    from time import ticks_add, ticks_diff, ticks_ms  # noqa: F401 (re-exported)

    async def _probe():
        pass

    CORO = type(_probe())  # "generator": what calling an async function returns here
    del _probe  # its bytecode is needed no more

    class Waiters:
        """Tasks that sleep until a deadline, which ``wake()`` or ``wake_all()`` brings
        forward: an asyncio.Event with a timeout, without a task per wait (wait_for's)."""

        def __init__(self):
            self.tasks = []  # type: list  # in the order they started waiting

        async def wait_ms(self, ms):
            """Sleep ``ms`` at most: until a wake picks this task, if that is sooner."""
            task = asyncio.current_task()
            self.tasks.append(task)
            try:
                await sleep_ms(ms)
            finally:
                self.tasks.remove(task)

        def wake(self, every=False):
            """End the sleep of the task waiting longest (and not woken yet) now, or of every
            one: they run as soon as the loop is free."""
            from asyncio import core  # type: ignore[attr-defined]

            for task in self.tasks:
                # What Task.cancel() does with a sleeping task, without the cancellation: bring
                # its turn on the run queue forward to now; its sleep_ms() then simply returns.
                if ticks_diff(task.ph_key, ticks_ms()) > 0:
                    core._task_queue.remove(task)
                    core._task_queue.push(task)
                    if not every:
                        return

        def wake_all(self):
            self.wake(True)

    # Requests and deferred accepts waiting for room in the heap (microhttp.server).
    _room = Waiters()
    wait_ms = _room.wait_ms
    wake = _room.wake

    def readinto(reader, buffer):
        return reader.readinto(buffer)  # the stream's own awaitable: no extra coroutine per read

    def write(writer, data):
        writer.write(data)

    async def linger(reader, writer, scratch, ms, quiet_ms, most):
        """Read and discard what the peer still sends, until it closes, nothing comes for
        ``quiet_ms``, ``ms`` pass or ``most`` bytes came; the caller then closes. The sockets
        here have no shutdown(): the peer sees the end of our answer only at that close.
        ``scratch`` receives the discarded bytes (its content is never read)."""
        began = heard = ticks_ms()
        try:
            while most > 0:
                # The socket is non-blocking: None while nothing is waiting; polled, as a
                # timed wait (asyncio.wait_for) would cost a task and asyncio's funcs module.
                count = reader.s.readinto(scratch)
                now = ticks_ms()
                if count == 0:
                    return  # the peer closed: nothing is left unread
                if count:
                    most -= count
                    heard = now
                elif ticks_diff(now, heard) >= quiet_ms:
                    return
                if ticks_diff(now, began) >= ms:
                    return
                await sleep_ms(0 if count else 20)
        except Exception:
            pass  # reset or closed: nothing left to protect

    def utf8(text):
        """``text``'s UTF-8 bytes as a buffer: here a view of the str's own bytes, no copy
        (a str exposes them to the buffer protocol), so a rendered JSON piece is not held
        twice while it is sent."""
        return memoryview(text)

    def nodelay(writer):
        # Best effort: not every port exports (or supports) TCP_NODELAY; we coalesce anyway.
        try:
            writer.s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
        except Exception:
            pass

    def _readable(sock):
        # Wait until ``sock`` can be read, as MicroPython's own streams do
        # (extmod/asyncio/stream.py).
        from asyncio import core  # type: ignore[attr-defined]

        yield core._io_queue.queue_read(sock)

    async def recvfrom(sock, size):
        """The next datagram on a non-blocking UDP socket and its sender's address."""
        await _readable(sock)
        return sock.recvfrom(size)

    async def listen(handler, host, port, backlog, room):
        """Listen and accept in a task; returns it (cancel() stops and closes the socket).
        A pending connection is accepted once ``room()`` is true (asked again at every
        wake()), or after 5 s.

        Our own accept loop instead of asyncio.start_server, whose loop dies for good when
        creating the connection's Stream or task raises MemoryError, and which cannot defer
        an accept. It waits on the socket with asyncio.core's I/O queue, exactly as
        asyncio.stream does (checked on 1.22-1.25).
        """
        try:
            import socket  # type: ignore[import-not-found]
        except ImportError:  # a port built without networking
            raise OSError("no socket module")
        address = socket.getaddrinfo(host, port)[0]
        listener = socket.socket(address[0])
        listener.setblocking(False)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address[-1])
        listener.listen(backlog)
        return asyncio.create_task(_accept(listener, handler, room))

    async def _accept(listener, handler, room):
        from asyncio import core  # type: ignore[attr-defined]

        try:
            while True:
                yield core._io_queue.queue_read(listener)
                # Deferred accept: the client waits in the listen backlog while the server
                # has no room, until something ends (the server calls wake()), for 5 s at
                # most: if nothing ends meanwhile, an answer (503 if the heap is still short)
                # is better than waiting for ever.
                began = ticks_ms()
                try:
                    while not room() and ticks_diff(ticks_ms(), began) < 5000:
                        # Asked again at least every 100 ms: an idle connection that room() may
                        # close to make room ends nothing by itself, so wakes no one.
                        await wait_ms(100)
                    client, peer = listener.accept()
                except MemoryError:
                    import gc

                    gc.collect()  # the listener must outlive a heap run dry: wait again
                    continue
                except Exception:
                    continue
                try:
                    client.setblocking(False)
                    stream = asyncio.StreamReader(client, {"peername": peer})
                    asyncio.create_task(handler(stream, stream))
                except MemoryError:
                    client.close()
                    import gc

                    gc.collect()
        finally:
            listener.close()

else:
    from microhttp.compat_cpython import *  # type: ignore[no-redef,assignment] # noqa: F403
