"""The drivers' own asyncio tasks on a virtual-time loop (CPython): seconds of polling,
patterns and fades run instantly and identically every time, so event times are exact."""

import asyncio

import machine
from drivers.board import load_board
from fixtures.drivers import Events, board_file
from vclock import VirtualClock

CPYTHON_ONLY = True  # the virtual-time loop replaces CPython's asyncio clock; MicroPython's is built in


def virtual_board():
    machine.sim.configure(port="esp32")
    clock = VirtualClock(0)
    return load_board(board_file("virtual"), machine), clock


def test_button_task_events_at_exact_virtual_times():
    board, clock = virtual_board()
    events = Events(clock)
    board.devices["button"].subscribe(events)

    async def script():
        board.start()
        await asyncio.sleep(0.105)  # between two polls
        machine.sim.set_input(4, 0)
        await asyncio.sleep(0.150)
        machine.sim.set_input(4, 1)
        await asyncio.sleep(1.0)
        board.deinit()

    clock.run(script())
    times = dict((name, t) for name, t, _ in events.log)
    assert events.names() == ["press", "release", "click"]
    assert times["press"] == 130  # first poll seeing it at 110, stable 20 ms later
    assert times["release"] == 280  # raw release at 255: seen at 260, stable at 280
    assert times["click"] == 680  # the 400 ms double-click grace after the release


def test_repeat_while_held_on_the_virtual_board():
    board, clock = virtual_board()  # the virtual board sets repeat_ms 250
    events = Events(clock)
    board.devices["button"].subscribe(events)

    async def script():
        board.start()
        await asyncio.sleep(0.1)
        machine.sim.set_input(4, 0)
        await asyncio.sleep(2.0)
        machine.sim.set_input(4, 1)
        await asyncio.sleep(0.5)
        board.deinit()

    clock.run(script())
    names = events.names()
    assert names[:2] == ["press", "long_press"] and names[-1] == "release"
    repeats = [t for name, t, _ in events.log if name == "repeat"]
    assert [b - a for a, b in zip(repeats, repeats[1:], strict=False)] == [250] * (len(repeats) - 1)
    assert len(repeats) == 4  # held 2 s: long at 0.8 s, repeats at 1.05, 1.3, 1.55, 1.8 s


def test_blink_task_toggles_once_per_half_period():
    board, clock = virtual_board()
    rises = []
    machine.sim.on_change(lambda pin, info: rises.append(clock()) if pin == 17 and info["level"] == 1 else None)

    async def script():
        board.start()
        board.role("wifi_status").command({"pattern": "blink", "period_ms": 400})
        await asyncio.sleep(9.99)
        board.deinit()

    clock.run(script())
    assert len(rises) == 25
    assert [b - a for a, b in zip(rises, rises[1:], strict=False)] == [400] * 24


def test_fade_task_ends_exactly_and_reports_twice():
    board, clock = virtual_board()
    pwm = board.devices["pwm"]
    states = Events(clock, with_state=True)
    pwm.subscribe(states)
    duties = []
    machine.sim.on_change(lambda pin, info: duties.append(info["pwm"]["duty_u16"]) if pin == 18 and info["pwm"] else None)

    async def script():
        board.start()
        pwm.command({"fade": {"to": 0.8, "ms": 1000, "easing": "ease_in_out"}})
        await asyncio.sleep(1.5)
        board.deinit()

    clock.run(script())
    assert duties[-1] == 0 and int(0.8 * 65535 + 0.5) in duties  # deinit zeroes it afterwards
    ramp = duties[:duties.index(int(0.8 * 65535 + 0.5)) + 1]
    assert ramp == sorted(ramp) and len(ramp) >= 40  # ~50 frames of 20 ms
    assert [t for name, t, _ in states.log] == [0, 1000]
