"""A virtual millisecond clock for timing tests. NEVER UPLOAD THIS TO A BOARD.

Drivers take ``clock=`` (a function returning ticks_ms); pass a ``VirtualClock`` and move time
with ``advance(ms)`` / ``set(ms)``: timing logic then runs deterministically on both runtimes.
On CPython ``install()`` also makes ``time.ticks_ms()`` (and friends) read this clock, through
``cpython_runtime.set_clock``; on MicroPython the real ticks cannot be replaced, so pass the
clock explicitly.
"""

try:  # wrap where this runtime's ticks wrap: 2**30 on boards and simulated on CPython, more on unix
    from time import ticks_add

    _PERIOD = ticks_add(0, -1) + 1
except ImportError:
    _PERIOD = 1 << 30
PERIOD = _PERIOD


class VirtualClock:
    def __init__(self, start_ms=0):
        self.ms = start_ms

    def __call__(self):
        return self.ms % _PERIOD

    def advance(self, ms):
        self.ms += ms
        return self()

    def set(self, ms):
        self.ms = ms
        return self()

    def install(self):
        """CPython: time.ticks_* follow this clock until ``uninstall()``. Returns self."""
        try:
            import cpython_runtime
        except ImportError:
            return self
        import sys

        if sys.implementation.name != "micropython":
            cpython_runtime.set_clock(lambda: self.ms * 1000000)
        return self

    def uninstall(self):
        try:
            import cpython_runtime
        except ImportError:
            return
        cpython_runtime.set_clock(None)

    def run(self, coro):
        """CPython: run ``coro`` on an asyncio loop that reads this clock. Whenever every task
        waits on a timer, time jumps to that timer instead of sleeping, so seconds of driver
        activity (polling, patterns, fades) run in milliseconds and always the same way.
        ``time.ticks_*`` follow the clock meanwhile. A wait with no timer at all is a deadlock
        here (nothing outside can wake it) and raises RuntimeError."""
        import asyncio
        import selectors

        clock = self

        class VirtualSelector(selectors.DefaultSelector):
            def select(self, timeout=None):
                ready = super().select(0)  # the loop's own wake-up pipe still works
                if ready or timeout == 0:
                    return ready
                if timeout is None:
                    raise RuntimeError("virtual clock: every task waits and no timer is set")
                whole_ms = int(timeout * 1000)
                clock.ms += whole_ms if whole_ms >= timeout * 1000 - 1e-9 else whole_ms + 1
                return []

        loop = asyncio.SelectorEventLoop(VirtualSelector())
        loop.time = lambda: clock.ms / 1000
        self.install()
        try:
            return loop.run_until_complete(coro)
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()
            self.uninstall()
