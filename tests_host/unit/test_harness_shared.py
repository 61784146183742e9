"""The harness's own shared checks: these run on CPython and on the MicroPython unix port."""

import sys

from support import IS_MICROPYTHON, RUNTIME, raises, run


def test_runtime_is_what_the_harness_says():
    assert RUNTIME == sys.implementation.name
    if IS_MICROPYTHON:
        import micropython

        assert hasattr(micropython, "heap_lock")  # the real built-in, not the shim


def test_raises_catches_and_checks_the_message():
    with raises(ValueError, "bad") as caught:
        raise ValueError("a bad value")
    assert str(caught.value) == "a bad value"


def test_raises_fails_when_nothing_is_raised():
    try:
        with raises(KeyError):
            pass
    except AssertionError as exc:
        assert "nothing was raised" in str(exc)
    else:
        raise AssertionError("raises() let a missing exception pass")


def test_ticks_and_threadsafeflag_exist_on_both_runtimes():
    import asyncio
    import time

    t0 = time.ticks_ms()
    assert time.ticks_diff(time.ticks_add(t0, 5), t0) == 5
    assert time.ticks_diff(time.ticks_add(t0, -1), t0) == -1
    if not IS_MICROPYTHON:
        # The shim wraps at 2**30 like ESP32 and RP2 (the 64-bit unix port wraps at 2**62).
        assert time.ticks_add((1 << 30) - 1, 2) == 1
        assert time.ticks_diff(1, (1 << 30) - 1) == 2

    async def main():
        flag = asyncio.ThreadSafeFlag()
        flag.set()
        await flag.wait()
        return "woken"

    assert run(main()) == "woken"
