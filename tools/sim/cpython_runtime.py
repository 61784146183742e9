"""Gives CPython the MicroPython APIs the firmware uses. NEVER UPLOAD THIS TO A BOARD.

``install()`` adds ``time.ticks_ms/us/cpu``, ``ticks_add``, ``ticks_diff``, ``sleep_ms``,
``sleep_us``, ``asyncio.ThreadSafeFlag`` and ``gc.threshold`` (which does nothing here:
CPython frees most objects by reference counting, there is no collection to schedule). The ticks read a clock that tests may replace
with a virtual one (``set_clock``), so timing logic is deterministic on CPython.
On MicroPython this module is never needed: ``install()`` does nothing there.
"""

import sys
import time

TICKS_PERIOD = 1 << 30  # MicroPython's ticks wrap at 2**30 (py/mphal.h MICROPY_PY_TIME_TICKS_PERIOD)
_TICKS_MAX = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD // 2

_real_monotonic_ns = time.monotonic_ns
_clock_ns = _real_monotonic_ns


def set_clock(ns_function):
    """Make ticks read ``ns_function()`` (nanoseconds); ``None`` restores the real clock."""
    global _clock_ns
    _clock_ns = ns_function or _real_monotonic_ns


def ticks_ms():
    return (_clock_ns() // 1_000_000) & _TICKS_MAX


def ticks_us():
    return (_clock_ns() // 1_000) & _TICKS_MAX


def ticks_cpu():
    return ticks_us()


def ticks_add(ticks, delta):
    return (ticks + delta) & _TICKS_MAX


def ticks_diff(end, start):
    return ((end - start + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def sleep_ms(ms):
    time.sleep(ms / 1000)


def sleep_us(us):
    time.sleep(us / 1_000_000)


class ThreadSafeFlag:
    """asyncio.ThreadSafeFlag for CPython: ``set()`` may be called from any thread or from a
    simulated interrupt; one task waits; ``wait()`` clears the flag, as on MicroPython."""

    def __init__(self):
        self._flag = False
        self._waiter = None

    def set(self):
        self._flag = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        import asyncio

        loop = waiter.get_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            waiter.set_result(None)
        else:
            loop.call_soon_threadsafe(lambda: waiter.done() or waiter.set_result(None))

    def clear(self):
        self._flag = False

    async def wait(self):
        import asyncio

        while not self._flag:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._flag = False


def gc_threshold(amount=None):
    """MicroPython's gc.threshold(): the bytes allocated between two collections (-1: none)."""
    return -1


def install():
    if sys.implementation.name == "micropython":
        return
    for name in ("ticks_ms", "ticks_us", "ticks_cpu", "ticks_add", "ticks_diff", "sleep_ms", "sleep_us"):
        setattr(time, name, globals()[name])
    import gc

    if not hasattr(gc, "threshold"):
        gc.threshold = gc_threshold
    import asyncio

    if not hasattr(asyncio, "ThreadSafeFlag"):
        asyncio.ThreadSafeFlag = ThreadSafeFlag
