"""PWM output: duty in three units, fades and sequences ending exactly on target, port limits
(ESP32 timers, RP2 slices) refused before anything changes. Both runtimes, virtual clock."""

import json

import machine
from drivers import CommandError, PwmOut, curves
from drivers.pwm import PwmPlan, rp2_channel
from fixtures.drivers import Events
from support import raises
from vclock import VirtualClock

FULL = 65535


def make(pin=18, freq=1000, port="esp32", plan=None, name="pwm"):
    if plan is None:
        machine.sim.configure(port=port)
    clock = VirtualClock(5000)
    pwm = machine.PWM(machine.Pin(pin, machine.Pin.OUT), freq=freq, duty_u16=0)
    if plan is not None:
        plan.claim(name, pin, freq)
    return PwmOut(name, pwm, freq=freq, plan=plan, clock=clock), clock


def hw(pin=18):
    return machine.sim.pwm_state(pin)


def test_duty_in_fraction_u16_and_ns():
    out, _ = make()
    out.command({"duty": 0.25})
    assert hw()["duty_u16"] == 16384 and out.state()["duty_u16"] == 16384
    out.command({"duty_u16": 1234})
    assert hw()["duty_u16"] == 1234
    out.command({"duty_ns": 250000})  # a quarter of 1 ms
    assert hw()["duty_u16"] == 16384
    assert out.state()["duty_ns"] == 250004  # what 16384/65535 of a period really is
    out.command({"freq": 2000, "duty_ns": 250000})  # freq applies first: now half a period
    assert hw() == {"freq": 2000, "duty_u16": 32768}


def test_fades_end_exactly_on_target_for_every_easing():
    for easing in curves.EASING_NAMES:
        out, clock = make()
        out.command({"duty": 0.1})
        out.command({"fade": {"to": 0.73, "ms": 997, "easing": easing}})
        assert out.state()["fading"] is True and out.state()["target"] == 0.73
        seen = []
        for step in (13, 300, 333, 250, 99, 7, 50):  # irregular frames, none on the end
            clock.advance(step)
            seen.append(out.tick())
        assert seen[-1] == int(0.73 * FULL + 0.5) == hw()["duty_u16"], (easing, seen)
        assert seen == sorted(seen), (easing, seen)  # every easing here is monotonic
        assert out.state()["fading"] is False


def test_easings_are_exact_at_both_ends_and_monotonic():
    for name in curves.EASING_NAMES:
        fn = curves.EASINGS[name]
        assert fn(0) == 0 and fn(curves.ONE) == curves.ONE, name
        previous = -1
        for p in range(0, curves.ONE + 1, 1024):
            assert fn(p) >= previous, (name, p)
            previous = fn(p)


def test_fade_down_and_zero_length_fade():
    out, clock = make()
    out.command({"duty": 1})
    out.command({"fade": {"to": 0, "ms": 100}})
    clock.advance(50)
    assert 0 < out.tick() < FULL
    clock.advance(51)
    assert out.tick() == 0 and hw()["duty_u16"] == 0
    out.command({"fade": {"to": 0.5, "ms": 0}})
    assert hw()["duty_u16"] == 32768 and out.state()["fading"] is False


def test_sequence_runs_its_steps_and_repeats():
    out, clock = make()
    events = Events(clock, with_state=True)
    out.subscribe(events)
    out.command({"sequence": {"steps": [{"to": 1, "ms": 100}, {"to": 0.25, "ms": 200, "easing": "sine"}],
                              "repeat": 1}})
    samples = {}
    for t in range(0, 650, 10):
        samples[t] = out.tick(clock.set(5000 + t))
    assert samples[100] == FULL and samples[300] == 16384  # ends of the first pass, exactly
    assert samples[400] == FULL and samples[600] == 16384  # second pass (one repeat)
    assert samples[640] == 16384 and out.state()["sequence"] is False
    # "state" goes out on the command and when the sequence ends, not on every frame
    assert events.count("state") == 2


def test_stop_holds_the_current_duty():
    out, clock = make()
    out.command({"fade": {"to": 1, "ms": 1000}})
    clock.advance(500)
    mid = out.tick()
    out.command({"stop": True})
    clock.advance(500)
    assert out.tick() == mid and out.state()["fading"] is False


def test_invalid_commands_change_nothing():
    out, clock = make()
    out.command({"duty": 0.4, "freq": 2000})
    before = json.dumps(out.state())
    hw_before = hw()
    bad = (
        ({"duty": 1.01}, "duty"),
        ({"duty": "half"}, "duty"),
        ({"duty_u16": 65536}, "duty_u16"),
        ({"duty_u16": 0.5}, "duty_u16"),
        ({"duty_ns": 600000}, "duty_ns"),  # longer than the 500 us period at 2 kHz
        ({"freq": 0}, "freq"),
        ({"freq": 50000000}, "freq"),
        ({"duty": 0.5, "duty_u16": 3}, "duty_u16"),
        ({"fade": {"to": 2, "ms": 10}}, "fade.to"),
        ({"fade": {"to": 0.5}}, "fade.ms"),
        ({"fade": {"to": 0.5, "ms": 10, "easing": "bouncy"}}, "fade.easing"),
        ({"fade": 0.5}, "fade"),
        ({"sequence": {"steps": []}}, "sequence.steps"),
        ({"sequence": {"steps": [{"to": 0.5, "ms": 10}] * 17}}, "sequence.steps"),
        ({"sequence": {"steps": [{"to": 0.5, "ms": 10}, {"to": 9, "ms": 1}]}}, "sequence.steps[1].to"),
        ({"sequence": {"steps": [{"to": 0.5, "ms": 0}], "repeat": -1}}, "sequence.repeat"),
        ({"freq": 3000, "duty": 7}, "duty"),  # a valid field before a bad one: neither applies
        ({"stop": False}, "stop"),
        ({"speed": 1}, "speed"),
    )
    for command, field in bad:
        with raises(CommandError) as caught:
            out.command(command)
        assert caught.value.field == field, (command, caught.value.field, str(caught.value))
        assert json.dumps(out.state()) == before and hw() == hw_before, command


def test_esp32s3_has_four_timers():
    machine.sim.configure(port="esp32s3")
    plan = PwmPlan("esp32s3")
    outs = []
    for i, freq in enumerate((1000, 1000, 2000, 3000, 4000)):
        out, _ = make(pin=4 + i, freq=freq, plan=plan, name="p%d" % i)
        outs.append(out)
    with raises(ValueError, "out of PWM timers"):
        plan.claim("p5", 10, 5000)
    # p0 shares 1000 Hz with p1: moving it needs a fifth timer -> refused, nothing changes
    with raises(CommandError, "out of PWM timers") as caught:
        outs[0].command({"freq": 5000})
    assert caught.value.field == "freq"
    assert outs[0].state()["freq"] == 1000 and hw(4)["freq"] == 1000
    # p4 has 4000 Hz to itself: it may move (its timer is reused)
    outs[4].command({"freq": 5000})
    assert hw(8)["freq"] == 5000


def test_the_port_refusing_a_frequency_becomes_a_command_error():
    machine.sim.configure(port="esp32c3")
    outs = []
    for i in range(4):  # four timers, no plan: the shim's LEDC model refuses the fifth
        out, _ = make(pin=4 + i, freq=1000 * (i + 1), plan=PwmPlan("esp32c3"), name="p%d" % i)
        out.plan = None
        outs.append(out)
    extra, _ = make(pin=10, freq=1000, plan=PwmPlan("esp32c3"), name="x")
    extra.plan = None
    with raises(CommandError, "out of PWM timers") as caught:
        extra.command({"freq": 9000, "duty": 0.5})
    assert caught.value.field == "freq"
    assert hw(10) == {"freq": 1000, "duty_u16": 0} and extra.state()["duty_u16"] == 0


def test_rp2_slices_share_a_frequency():
    machine.sim.configure(port="rp2")
    assert rp2_channel(8) == (4, 0) and rp2_channel(9) == (4, 1) and rp2_channel(25) == (4, 1)
    plan = PwmPlan("rp2040")
    a, _ = make(pin=8, freq=1000, plan=plan, name="a")
    make(pin=9, freq=1000, plan=plan, name="b")
    with raises(CommandError, "slice 4") as caught:
        a.command({"freq": 2000})
    assert caught.value.field == "freq" and hw(8)["freq"] == 1000 and hw(9)["freq"] == 1000
    with raises(ValueError, "same PWM channel"):
        plan.claim("led", 25, 1000)
    other = PwmPlan("rp2040")
    other.claim("x", 2, 100)
    with raises(ValueError, "a slice has one frequency"):
        other.claim("y", 3, 200)


def test_deinit_zeroes_and_releases_the_channel():
    out, _ = make()
    out.command({"duty": 0.5})
    out.deinit()
    assert hw() is None
