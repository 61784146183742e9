"""Random commands against every device kind: each one either applies (and the state stays
within its documented ranges) or raises CommandError and changes nothing -- never another
exception. Deterministic (own generator), both runtimes."""

import json

import machine
from drivers import Button, CommandError, Led, PwmOut
from fixtures.drivers import Lcg
from vclock import VirtualClock

LED_KEYS = ("on", "toggle", "brightness", "pattern", "period_ms", "transition_ms", "x")
PWM_KEYS = ("duty", "duty_u16", "duty_ns", "freq", "fade", "sequence", "stop", "to", "ms", "easing", "steps",
            "repeat", "x")
SCALARS = (True, False, None, 0, 1, -1, 0.5, 1.5, 2, 100, 65535, 65536, 1000, 25000, 10 ** 9, "blink",
           "pulse", "off", "linear", "sine", "", "x", [], {}, [1], float("inf"))


def value(rng, keys, depth):
    pick = rng.below(10)
    if depth < 2 and pick == 0:
        return command(rng, keys, depth + 1)
    if depth < 2 and pick == 1:
        return [command(rng, keys, depth + 1) for _ in range(rng.below(3))]
    return SCALARS[rng.below(len(SCALARS))]


def command(rng, keys, depth=0):
    out = {}
    for _ in range(1 + rng.below(2)):
        out[keys[rng.below(len(keys))]] = value(rng, keys, depth)
    return out


def check_device(device, seed, rounds, valid, keys=LED_KEYS):
    rng = Lcg(seed)
    clock = device.clock
    accepted = 0
    for _ in range(rounds):
        cmd = command(rng, keys)
        before = json.dumps(device.state())
        try:
            state = device.command(cmd)
        except CommandError as exc:
            assert isinstance(exc.field, str) and exc.field, (cmd, exc.field)
            assert json.dumps(device.state()) == before, cmd
        else:
            accepted += 1
            assert valid(state), (cmd, state)
        clock.advance(1 + rng.below(200))
        if hasattr(device, "tick"):
            device.tick()
            assert valid(device.state()), (cmd, device.state())
    return accepted


def led_valid(state):
    return 0 <= state["brightness"] <= 1 and 0 <= state["level"] <= 1 and 100 <= state["period_ms"] <= 60000


def pwm_valid(state):
    return 0 <= state["duty_u16"] <= 65535 and 1 <= state["freq"] <= 40000000 and 0 <= state["duty"] <= 1


def test_random_led_commands():
    machine.sim.configure(port="esp32")
    led = Led("led", pwm=machine.PWM(machine.Pin(16), freq=1000, duty_u16=0), clock=VirtualClock())
    assert check_device(led, 5, 600, led_valid) > 10  # some commands got through, too
    gled = Led("status", pin=machine.Pin(17, machine.Pin.OUT), clock=VirtualClock())
    assert check_device(gled, 6, 300, led_valid) > 5


def test_random_pwm_commands():
    machine.sim.configure(port="esp32")
    out = PwmOut("pwm", machine.PWM(machine.Pin(18), freq=1000, duty_u16=0), clock=VirtualClock())
    assert check_device(out, 7, 1500, pwm_valid, PWM_KEYS) > 10


def test_random_button_commands_are_all_refused():
    machine.sim.configure(port="esp32")
    button = Button("b", machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP), clock=VirtualClock())
    assert check_device(button, 8, 200, lambda state: False, LED_KEYS + PWM_KEYS) == 0
