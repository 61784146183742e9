"""The Device abstraction: subscribe/unsubscribe, errors, and the asyncio tasks working end to
end on the virtual board (real event loop, simulated pins). Both runtimes."""

import asyncio

import machine
from drivers import Button, CommandError, Led
from drivers.board import load_board
from drivers.device import validate_command
from fixtures.drivers import Events, board_file
from support import IS_MICROPYTHON, raises, run, skip
from vclock import PERIOD, VirtualClock


def sleep_ms(ms):
    return asyncio.sleep_ms(ms) if hasattr(asyncio, "sleep_ms") else asyncio.sleep(ms / 1000)


async def wait_for(predicate, limit_ms=3000):
    """Poll ``predicate`` on the running loop; a bound on the wait, not a timing assertion."""
    waited = 0
    while not predicate():
        if waited >= limit_ms:
            raise AssertionError("condition not reached")
        await sleep_ms(10)
        waited += 10


def test_subscribe_unsubscribe_and_a_failing_subscriber():
    machine.sim.configure(port="esp32")
    led = Led("led", pin=machine.Pin(17, machine.Pin.OUT))
    got = []

    def broken(device, event, data):
        raise RuntimeError("subscriber bug")

    led.subscribe(broken)
    unsubscribe = led.subscribe(lambda d, e, data: got.append((d.name, e, data["on"])))
    state = led.command({"on": True})  # the broken subscriber does not stop the command
    assert state["on"] is True and got == [("led", "state", True)]
    unsubscribe()
    unsubscribe()  # twice is harmless
    led.command({"on": False})
    assert len(got) == 1
    # Or unsubscribe with the object given to subscribe(): nothing to keep per subscription.
    def listener(device, event, data):
        got.append((device.name, event, data["on"]))

    led.subscribe(lambda d, e, data: None)
    led.subscribe(listener)
    led.command({"on": True})
    led.unsubscribe(listener)
    led.unsubscribe(listener)
    led.command({"on": False})
    assert got == [("led", "state", True), ("led", "state", True)]


def test_command_error_is_a_value_error_with_a_field():
    with raises(ValueError, "brightness: must be between 0 and 1") as caught:
        validate_command(Led.COMMANDS, Led.EXCLUSIVE, {"brightness": 3})
    assert isinstance(caught.value, CommandError)
    assert caught.value.field == "brightness" and caught.value.message == "must be between 0 and 1"
    assert validate_command(Led.COMMANDS, Led.EXCLUSIVE, {"brightness": 1}) == {"brightness": 1.0}
    assert validate_command(Led.COMMANDS, Led.EXCLUSIVE, {"period_ms": 500.0}) == {"period_ms": 500}


def test_virtual_board_end_to_end_with_running_tasks():
    machine.sim.configure(port="esp32")
    board = load_board(board_file("virtual"), machine)
    button = board.devices["button"]
    events = Events()
    button.subscribe(events)
    status = board.role("wifi_status")
    changes = []
    machine.sim.on_change(lambda pin_id, info: changes.append(info["level"]) if pin_id == 17 else None)

    async def main():
        board.start()
        machine.sim.set_input(4, 0)  # press
        await wait_for(lambda: "press" in events.names())
        machine.sim.set_input(4, 1)
        await wait_for(lambda: "click" in events.names())
        status.command({"pattern": "blink", "period_ms": 100, "transition_ms": 0})
        await wait_for(lambda: changes.count(0) >= 2 and changes.count(1) >= 2)
        pwm = board.devices["pwm"]
        pwm.command({"fade": {"to": 1, "ms": 60}})
        await wait_for(lambda: not pwm.state()["fading"])
        board.deinit()

    run(main())
    assert events.names() == ["press", "release", "click"]
    assert machine.sim.pwm_state(18) is None  # deinit released it, after the fade ended at 1
    assert board.devices["pwm"].state()["duty_u16"] == 65535


def test_irq_mode_end_to_end_on_rp2():
    machine.sim.configure(port="rp2")
    pin = machine.Pin(6, machine.Pin.IN, machine.Pin.PULL_UP)
    button = Button("b", pin, mode="irq", double_ms=0)
    events = Events()
    button.subscribe(events)

    async def main():
        button.start()
        await sleep_ms(20)
        for level in (0, 1, 0):  # a bounce, then held
            machine.sim.set_input(6, level)
        await wait_for(lambda: "press" in events.names())
        machine.sim.set_input(6, 1)
        await wait_for(lambda: "click" in events.names())
        button.deinit()

    run(main())
    assert events.names() == ["press", "release", "click"]
    snapshot = machine.sim.snapshot()
    assert snapshot["pins"]["6"]["irq"] is False  # deinit removed the handler


def test_virtual_clock_drives_the_default_ticks_on_cpython():
    if IS_MICROPYTHON:
        skip("MicroPython's ticks cannot be replaced: its tests pass clock= (as every other test does)")
    import time

    clock = VirtualClock(123456).install()
    try:
        assert time.ticks_ms() == 123456
        machine.sim.configure(port="esp32")
        led = Led("s", pin=machine.Pin(17, machine.Pin.OUT))  # default clock: time.ticks_ms
        led.command({"pattern": "blink", "period_ms": 200, "transition_ms": 0})
        assert machine.sim.level(17) == 1
        clock.advance(150)
        led.tick()
        assert machine.sim.level(17) == 0
    finally:
        clock.uninstall()


def test_timing_survives_the_ticks_wrap():
    from fixtures.drivers import Events

    machine.sim.configure(port="esp32")
    clock = VirtualClock(PERIOD - 300)
    pin = machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP)
    button = Button("b", pin, clock=clock)
    events = Events(clock)
    button.subscribe(events)
    led = Led("s", pin=machine.Pin(17, machine.Pin.OUT), clock=clock)
    led.command({"pattern": "blink", "period_ms": 400, "transition_ms": 0})
    levels = []
    for step in range(120):  # 1.2 s across the wrap, 10 ms polls
        if step == 20:
            machine.sim.set_input(4, 0)
        if step == 40:
            machine.sim.set_input(4, 1)
        button.poll()
        led.tick()
        levels.append(machine.sim.level(17))
        clock.advance(10)
    assert clock() < 1000  # the clock really wrapped
    assert events.names() == ["press", "release", "click"]
    assert levels[:20] == [1] * 20 and levels[20:40] == [0] * 20 and levels[40:60] == [1] * 20
