"""app.control.Coalescer: latest command wins, bounded, errors reach their submitter (both runtimes)."""

import asyncio

from app.control import SUPERSEDED, Coalescer
from support import raises, run


def test_idle_device_applies_at_once_and_errors_propagate():
    applied = []

    def apply(key, cmd):
        if cmd < 0:
            raise ValueError("negative")
        applied.append((key, cmd))
        return cmd * 2

    c = Coalescer(apply, min_interval_ms=0)

    async def main():
        assert await c.submit("led", 3) == 6
        with raises(ValueError, "negative"):
            await c.submit("led", -1)
        return applied

    assert run(main()) == [("led", 3)]


def test_a_burst_applies_the_first_and_the_latest_only():
    applied = []
    c = Coalescer(lambda key, cmd: applied.append((key, cmd)) or cmd, min_interval_ms=30)

    async def main():
        tasks = [asyncio.create_task(c.submit("pwm", v)) for v in range(50)]
        other = asyncio.create_task(c.submit("led", "on"))
        results = []
        for t in tasks:  # MicroPython has no await in comprehensions
            results.append(await t)
        return results, await other

    results, other = run(main())
    assert applied == [("pwm", 0), ("led", "on"), ("pwm", 49)]  # the other device never waits
    assert results[0] == 0 and results[-1] == 49
    assert results[1:-1] == [SUPERSEDED] * 48
    assert other == "on"
    assert c.superseded == 48 and c.applied == 3
    assert len(c.slots) == 2 and all(s.pending is None and s.task is None for s in c.slots.values())


def test_error_in_a_delayed_command_reaches_its_submitter():
    def apply(key, cmd):
        if cmd == "bad":
            raise ValueError("field 'duty' out of range")
        return cmd

    c = Coalescer(apply, min_interval_ms=20)

    async def main():
        assert await c.submit("pwm", "ok") == "ok"
        with raises(ValueError, "duty"):
            await c.submit("pwm", "bad")  # within the interval: waits in the slot, then fails
        return await c.submit("pwm", "again")

    assert run(main()) == "again"
