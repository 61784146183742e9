"""CPython stand-in for MicroPython's ``micropython`` module. NEVER UPLOAD THIS TO A BOARD.

On the MicroPython unix port the built-in module wins over this file, so tests that call
``heap_lock()`` really check allocation there and are a no-op here.
"""

_heap_locked = 0
_scheduled = []
SCHEDULE_DEPTH = 8  # esp32 and rp2 build with MICROPY_SCHEDULER_DEPTH = 8


def const(value):
    return value


def native(fn):
    return fn


viper = native


def schedule(fn, arg):
    """Queue ``fn(arg)`` like the ports do; a full queue raises RuntimeError as on a board."""
    if len(_scheduled) >= SCHEDULE_DEPTH:
        raise RuntimeError("schedule queue full")
    _scheduled.append((fn, arg))


def run_scheduled():
    """Test hook: run what ``schedule`` queued (a board does this between bytecodes)."""
    while _scheduled:
        fn, arg = _scheduled.pop(0)
        fn(arg)


def heap_lock():
    global _heap_locked
    _heap_locked += 1
    return _heap_locked - 1


def heap_unlock():
    global _heap_locked
    _heap_locked = max(0, _heap_locked - 1)
    return _heap_locked


def heap_locked():
    return _heap_locked


def mem_info(verbose=None):
    print("mem: simulated on CPython (no GC heap figures)")


def qstr_info(verbose=None):
    print("qstr: simulated on CPython")


def alloc_emergency_exception_buf(size):
    pass


def opt_level(level=None):
    return 0 if level is None else None


def kbd_intr(chr):
    pass
