"""A virtual millisecond clock for timing tests. NEVER UPLOAD THIS TO A BOARD.

Drivers take ``clock=`` (a function returning ticks_ms); pass a ``VirtualClock`` and move time
with ``advance(ms)`` / ``set(ms)``: timing logic then runs deterministically on both runtimes.
On CPython ``install()`` also makes ``time.ticks_ms()`` (and friends) read this clock, through
``cpython_runtime.set_clock``; on MicroPython the real ticks cannot be replaced, so pass the
clock explicitly.
"""

try:  # wrap where this runtime's ticks wrap: 2**30 on boards and CPython shims, more on unix
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
