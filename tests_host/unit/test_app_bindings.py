"""app.bindings: a button's events command devices with no network; every entry checked first,
a bad one named by its field as the API names it (both runtimes, on a virtual clock)."""

import machine
from app import bindings
from drivers import Button, Led, PwmOut
from vclock import VirtualClock


def _board():
    machine.sim.configure(port="esp32")
    clock = VirtualClock(1000)
    lamp = Led("lamp", pwm=machine.PWM(machine.Pin(16, machine.Pin.OUT), freq=1000, duty_u16=0), clock=clock)
    fan = PwmOut("fan", machine.PWM(machine.Pin(18, machine.Pin.OUT), freq=25000, duty_u16=0), freq=25000,
                 clock=clock)
    machine.sim.set_input(4, 1)
    button = Button("button", machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP), clock=clock)
    return {"lamp": lamp, "fan": fan, "button": button}, clock


def _hold(devices, clock, ms):
    """Press the button (pin 4 to ground) for ``ms``, release it, and let 500 ms pass (past the
    double-click window), polling as its task does."""
    for level, wait in ((0, ms), (1, 500)):
        machine.sim.set_input(4, level)
        for _ in range(wait // 10):
            clock.advance(10)
            devices["button"].poll()


def test_a_click_toggles_the_lamp_and_a_long_press_switches_everything_off():
    devices, clock = _board()
    entries, errors = bindings.check([
        {"button": "button", "event": "click", "device": "lamp", "command": {"toggle": True}},
        {"button": "button", "event": "long_press", "device": "lamp", "command": {"on": False}},
        {"button": "button", "event": "long_press", "device": "fan", "command": {"duty": 0}},
    ], devices)
    assert errors == []
    live = bindings.Bindings(devices, entries)
    _hold(devices, clock, 100)
    assert devices["lamp"].state()["on"] is True
    devices["fan"].command({"duty": 0.5})
    _hold(devices, clock, 1000)
    assert devices["lamp"].state()["on"] is False and devices["fan"].state()["duty"] == 0
    assert live.fired == 3
    live.close()
    _hold(devices, clock, 100)
    assert devices["lamp"].state()["on"] is False  # no longer bound


def test_every_bad_entry_is_named_by_its_field_and_left_out():
    devices, _ = _board()
    good = {"button": "button", "event": "click", "device": "lamp", "command": {"toggle": True}}
    entries, errors = bindings.check([
        good,
        {"button": "button", "event": "click", "device": "lamp", "command": {"brightness": 7}},
        {"button": "lamp", "event": "click", "device": "lamp", "command": {"toggle": True}},
        {"button": "button", "event": "tap", "device": "lamp", "command": {"toggle": True}},
        {"button": "button", "event": "click", "device": "porch", "command": {"toggle": True}},
        {"button": "button", "event": "click", "device": "button", "command": {"toggle": True}},
        {"button": "button", "event": "click", "device": "lamp"},
        {"button": "button", "event": "click", "device": "lamp", "command": {"on": True}, "when": "dark"},
        "toggle the lamp",
        {"button": "button", "event": "click", "device": "lamp", "command": {"on": True, "toggle": True}},
    ], devices)
    assert entries == [good]
    assert [(e.field, e.message) for e in errors] == [
        ("bindings[1].command.brightness", "must be between 0 and 1"),
        ("bindings[2].button", "the board has no button of that name"),
        ("bindings[3].event", "must be one of press, release, click, double_click, long_press, repeat"),
        ("bindings[4].device", "the board has no device of that name that takes commands"),
        ("bindings[5].device", "the board has no device of that name that takes commands"),
        ("bindings[6].command", "is required"),
        ("bindings[7].when", "unknown field"),
        ("bindings[8]", "expected an object with button, event, device and command"),
        ("bindings[9].command.toggle", "cannot be combined with on"),
    ]
    assert str(errors[0]) == "bindings[1].command.brightness: must be between 0 and 1"


def test_the_list_itself_is_checked_and_bounded():
    devices, _ = _board()
    assert [str(e) for e in bindings.check({"click": "lamp"}, devices)[1]] == ["bindings: expected a list"]
    entry = {"button": "button", "event": "click", "device": "lamp", "command": {"toggle": True}}
    entries, errors = bindings.check([entry] * (bindings.MAX_BINDINGS + 3), devices)
    assert len(entries) == bindings.MAX_BINDINGS
    assert [e.field for e in errors] == ["bindings"]


def test_a_command_the_port_refuses_is_logged_and_the_others_still_run():
    devices, clock = _board()
    logged = []
    entries, errors = bindings.check([
        {"button": "button", "event": "press", "device": "fan", "command": {"freq": 30000}},
        {"button": "button", "event": "press", "device": "lamp", "command": {"on": True}},
    ], devices)
    assert errors == []

    def refuse(freq):
        raise ValueError("no free timer")

    devices["fan"].pwm.freq = refuse
    live = bindings.Bindings(devices, entries, log=logged.append)
    _hold(devices, clock, 100)
    assert devices["lamp"].state()["on"] is True
    assert len(logged) == 1 and "fan" in logged[0] and "no free timer" in logged[0]
    live.close()
