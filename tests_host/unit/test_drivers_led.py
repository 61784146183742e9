"""LED: perceptual curve, on/off/toggle, active-low, patterns, crossfades, command validation.
Runs on CPython and on the MicroPython unix port, on a virtual clock."""

import json

import machine
from drivers import CommandError, Led, curves
from drivers.led import DEFAULT_TRANSITION_MS, PixelOutput, pattern_level
from support import raises
from vclock import VirtualClock

FULL = 65535


def pwm_led(pin=16, active_low=False, curve="cie"):
    machine.sim.configure(port="esp32")
    clock = VirtualClock(1000)
    pwm = machine.PWM(machine.Pin(pin, machine.Pin.OUT), freq=1000, duty_u16=FULL if active_low else 0)
    return Led("led", pwm=pwm, active_low=active_low, curve=curve, clock=clock), clock


def gpio_led(pin=17, active_low=False):
    machine.sim.configure(port="esp32")
    clock = VirtualClock(1000)
    return Led("status", pin=machine.Pin(pin, machine.Pin.OUT), active_low=active_low, clock=clock), clock


def duty(pin=16):
    return machine.sim.pwm_state(pin)["duty_u16"]


def test_cie_curve_is_monotonic_and_hits_both_ends():
    for table in (curves.CIE, curves.LINEAR):
        assert curves.lookup(table, 0) == 0
        assert curves.lookup(table, FULL) == FULL
        previous = -1
        for x in list(range(0, FULL, 37)) + [FULL - 1, FULL]:
            y = curves.lookup(table, x)
            assert y >= previous, (x, y, previous)
            previous = y
    # perceptual: half lightness is far less than half the power (CIE L*=50 -> Y~0.18)
    assert curves.lookup(curves.CIE, 32768) < FULL // 4
    assert curves.lookup(curves.CIE, 32768) > FULL // 8
    # and the 16-bit table keeps the low end: the first steps are distinct and non-zero
    assert 0 < curves.lookup(curves.CIE, 656) < curves.lookup(curves.CIE, 1311)


def test_curve_tables_are_their_formulas_at_65_points():
    import math

    def points(table):
        return [table[2 * i] << 8 | table[2 * i + 1] for i in range(65)]

    def formula(fn):
        return [int(fn(i / 64) * FULL + 0.5) for i in range(65)]

    def cie(lightness):  # CIE 1976 L* -> relative luminance
        big_l = lightness * 100
        return big_l / 903.3 if big_l <= 8 else ((big_l + 16) / 116) ** 3

    assert points(curves.CIE) == formula(cie)
    assert points(curves.LINEAR) == formula(lambda x: x)
    assert points(curves.RAISED_COSINE) == formula(lambda x: (1 - math.cos(2 * math.pi * x)) / 2)
    assert len(curves.CIE) == len(curves.LINEAR) == len(curves.RAISED_COSINE) == 130


def test_on_off_toggle_and_brightness_on_a_pwm_led():
    led, _ = pwm_led()
    assert duty() == 0 and led.state()["on"] is False
    led.command({"on": True})
    assert duty() == FULL
    led.command({"brightness": 0.5})
    assert 0 < duty() < FULL // 4  # perceptual: half brightness is a small duty
    led.command({"brightness": 0})
    assert duty() == 0 and led.state()["on"] is True
    led.command({"brightness": 1})
    led.command({"toggle": True})
    assert duty() == 0 and led.state()["on"] is False
    led.command({"toggle": True})
    assert duty() == FULL


def test_a_step_dims_as_a_dimmer_button_does():
    led, _ = pwm_led()
    led.command({"brightness": 0.6})  # remembered while off
    assert led.command({"step": 0.25}) == dict(led.state(), on=True, brightness=0.25)  # from off: up from 0
    assert led.command({"step": 0.5})["brightness"] == 0.75
    assert led.command({"step": 0.5})["brightness"] == 1.0  # no further than full
    state = led.command({"step": -0.25})
    assert state["on"] is True and state["brightness"] == 0.75
    state = led.command({"step": -1})
    assert state["on"] is False and state["brightness"] == 0.75 and duty() == 0  # off, its brightness kept
    led.command({"pattern": "blink"})
    state = led.command({"step": -1})
    assert state["on"] is False and state["pattern"] == "off"  # off stops a pattern, as "on": false does


def test_brightness_steps_are_monotonic_in_duty():
    led, _ = pwm_led()
    led.command({"on": True})
    previous = -1
    for step in range(0, 101):
        led.command({"brightness": step / 100})
        assert duty() >= previous
        previous = duty()
    assert previous == FULL


def test_active_low_leds_invert_the_output():
    led, _ = pwm_led(active_low=True)
    assert duty() == FULL  # off = high
    led.command({"on": True})
    assert duty() == 0
    gled, _ = gpio_led(active_low=True)
    assert machine.sim.level(17) == 1
    gled.command({"on": True})
    assert machine.sim.level(17) == 0


def test_blink_is_non_blocking_and_follows_its_period():
    led, clock = gpio_led()
    led.command({"pattern": "blink", "period_ms": 400, "transition_ms": 0})
    assert led.animating(clock())
    levels = []
    for _ in range(40):  # two periods at 20 ms frames
        led.tick(clock())
        levels.append(machine.sim.level(17))
        clock.advance(20)
    assert levels[:10] == [1] * 10 and levels[10:20] == [0] * 10 and levels[20:30] == [1] * 10


def test_pulse_reaches_full_and_zero():
    led, clock = pwm_led()
    led.command({"pattern": "pulse", "period_ms": 1000, "transition_ms": 0})
    t0 = clock()
    assert led.level_at(t0) == 0
    assert led.level_at(t0 + 500) == FULL
    assert led.level_at(t0 + 1000) == 0
    led.tick(t0 + 500)
    assert duty() == FULL
    led.command({"brightness": 0.5, "transition_ms": 0})
    assert led.level_at(t0 + 500) == 32768 * FULL // FULL


def test_patterns_have_their_shape():
    assert pattern_level("blink", 0) == FULL and pattern_level("blink", 40000) == 0
    assert pattern_level("heartbeat", 1000) == FULL and pattern_level("heartbeat", 10000) == 0
    assert pattern_level("heartbeat", 20000) == FULL and pattern_level("heartbeat", 50000) == 0
    previous = -1
    for phase in range(0, 32769, 512):  # pulse rises monotonically over the first half
        assert pattern_level("pulse", phase) >= previous
        previous = pattern_level("pulse", phase)


def test_crossfade_starts_from_what_shows_and_ends_on_the_new_pattern():
    led, clock = pwm_led()
    led.command({"on": True})
    t0 = clock()
    led.command({"pattern": "pulse", "period_ms": 1000})  # default crossfade
    assert led.level_at(t0) == FULL  # still showing the old steady level
    reference, _ = pwm_led(pin=17)
    reference._pattern, reference._period, reference._t0, reference._on = "pulse", 1000, t0, True
    mid = led.level_at(t0 + DEFAULT_TRANSITION_MS // 2)
    assert reference.level_at(t0 + DEFAULT_TRANSITION_MS // 2) < mid < FULL
    for t in range(t0 + DEFAULT_TRANSITION_MS, t0 + 3000, 37):
        assert led.level_at(t) == reference.level_at(t), t
    led.tick(t0 + DEFAULT_TRANSITION_MS)
    assert not led.state()["pattern"] == "off" and led._from is None


def test_retargeting_mid_fade_has_no_jump():
    led, clock = pwm_led()
    led.command({"on": True, "brightness": 0.2, "transition_ms": 0})
    led.command({"brightness": 1.0, "transition_ms": 400})
    clock.advance(150)
    before = led.level_at(clock())
    led.command({"pattern": "blink", "period_ms": 1000, "transition_ms": 400})
    assert led.level_at(clock()) == before
    clock.advance(400)
    led.tick(clock())
    assert led.level_at(clock()) == pattern_level("blink", (400 * 65536) // 1000)


def test_brightness_fade_ends_exactly_on_target():
    led, clock = pwm_led()
    led.command({"on": True, "brightness": 0, "transition_ms": 0})
    led.command({"brightness": 0.7, "transition_ms": 333})
    for _ in range(30):
        clock.advance(17)
        led.tick(clock())
    assert led.level_at(clock()) == int(0.7 * FULL + 0.5)
    assert duty() == curves.lookup(curves.CIE, int(0.7 * FULL + 0.5))
    assert not led.animating(clock())


def test_off_stops_a_pattern():
    led, clock = gpio_led()
    led.command({"pattern": "heartbeat"})
    assert led.state()["on"] is True
    led.command({"on": False})
    assert led.state()["pattern"] == "off" and not led.animating(clock.advance(1000))
    led.tick(clock())
    assert machine.sim.level(17) == 0


BAD = (
    ({"brightness": 1.5}, "brightness"),
    ({"brightness": -0.1}, "brightness"),
    ({"brightness": "bright"}, "brightness"),
    ({"brightness": True}, "brightness"),
    ({"on": 1}, "on"),
    ({"toggle": False}, "toggle"),
    ({"pattern": "disco"}, "pattern"),
    ({"pattern": 3}, "pattern"),
    ({"period_ms": 50}, "period_ms"),
    ({"period_ms": 1.5}, "period_ms"),
    ({"transition_ms": -1}, "transition_ms"),
    ({"on": True, "toggle": True}, "toggle"),
    ({"on": True, "brightness": 2}, "brightness"),
    ({"step": 1.5}, "step"),
    ({"on": True, "step": 0.25}, "step"),
    ({"brightness": 0.5, "step": 0.25}, "step"),
    ({"colour": "red"}, "colour"),
    ({}, "command"),
    ("on", "command"),
    (None, "command"),
)


def test_invalid_commands_change_nothing():
    led, clock = pwm_led()
    led.command({"on": True, "brightness": 0.3, "pattern": "pulse", "period_ms": 900})
    clock.advance(100)
    led.tick(clock())
    events = []
    led.subscribe(lambda d, e, data: events.append(e))
    before = json.dumps(led.state())
    out_before = duty()
    level_before = led.level_at(clock() + 50)
    for command, field in BAD:
        with raises(CommandError) as caught:
            led.command(command)
        assert caught.value.field == field, (command, caught.value.field)
        assert field in str(caught.value)
        assert json.dumps(led.state()) == before, command
        assert duty() == out_before
        assert led.level_at(clock() + 50) == level_before
    assert events == []
    nan = float("nan")
    with raises(CommandError, "NaN"):
        led.command({"brightness": nan})


def test_pixel_leds_scale_their_colour():
    import neopixel

    machine.sim.configure(port="esp32s3")
    pixels = neopixel.NeoPixel(machine.Pin(38, machine.Pin.OUT), 1)
    led = Led("rgb", output=PixelOutput(pixels, 0, (255, 128, 0)), clock=VirtualClock())
    assert machine.sim.pixels(38) == [(0, 0, 0)]
    led.command({"on": True})
    assert machine.sim.pixels(38) == [(255, 128, 0)]
    led.command({"brightness": 0.5})
    r, g, b = machine.sim.pixels(38)[0]
    assert 0 < r < 128 and g < r and b == 0
    led.deinit()
    assert machine.sim.pixels(38) == [(0, 0, 0)]


def test_describe_lists_commands_and_is_json_ready():
    led, _ = pwm_led()
    info = json.loads(json.dumps(led.describe()))
    assert info["name"] == "led" and info["kind"] == "led" and info["state"]["dimmable"] is True
    names = [c["name"] for c in info["commands"]]
    assert names == ["on", "toggle", "brightness", "pattern", "period_ms", "transition_ms", "step"]
    brightness = info["commands"][2]
    assert (brightness["type"], brightness["min"], brightness["max"]) == ("number", 0, 1)
    assert "blink" in info["commands"][3]["values"]
    gled, _ = gpio_led()
    assert gled.describe()["state"]["dimmable"] is False


def test_led_needs_an_output():
    with raises(ValueError, "pin"):
        Led("x")


def test_on_off_leds_switch_patterns_at_once():
    led, clock = gpio_led()
    led.command({"on": True})
    t0 = clock()
    led.command({"pattern": "heartbeat"})  # default transition, but a GPIO LED cannot fade
    led.tick(t0 + 150)  # 12.5 % into the beat: the pattern is dark here
    assert machine.sim.level(17) == 0
    led.tick(t0 + 300)  # second beat
    assert machine.sim.level(17) == 1
