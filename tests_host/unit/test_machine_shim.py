"""The simulated machine module follows the real ports; the sim back-plane works on both
runtimes (the virtual board's control channel is built on it)."""

import json

import machine
from support import IS_MICROPYTHON, raises

Pin = machine.Pin


def test_pins_levels_pulls_and_outputs():
    sim = machine.sim.configure(port="esp32")
    out = Pin(4, Pin.OUT, value=1)
    assert sim.level(4) == 1 and out.value() == 1
    out.off()
    assert sim.level(4) == 0
    out(1)
    assert out() == 1
    up = Pin(5, Pin.IN, Pin.PULL_UP)
    down = Pin(13, Pin.IN, Pin.PULL_DOWN)
    assert up.value() == 1 and down.value() == 0
    sim.set_input(5, 0)
    assert up.value() == 0
    sim.set_input(5, None)  # released: the pull wins again
    assert up.value() == 1
    signal = machine.Signal(Pin(14, Pin.OUT), invert=True)
    signal.on()
    assert sim.level(14) == 0 and signal.value() == 1


def test_port_pin_rules():
    machine.sim.configure(port="esp32")
    with raises(ValueError, "input"):
        Pin(34, Pin.OUT)
    assert Pin(35, Pin.IN, Pin.PULL_UP).value() == 0  # no pull resistors on GPIO34-39: it floats
    with raises(ValueError):
        Pin(6 + 14)  # GPIO20 does not exist on the ESP32
    with raises(ValueError):
        Pin("LED")
    machine.sim.configure(port="rp2")
    assert repr(Pin("LED")) == "Pin(25)"  # the Pico's LED is GP25
    machine.sim.configure(port="rp2w")
    led = Pin("LED", Pin.OUT)
    with raises(ValueError, "pulls"):
        led.init(pull=Pin.PULL_UP)
    with raises(ValueError):
        Pin(25)  # the CYW43 bus uses GP25 on a Pico W


def test_irq_fires_on_edges_hard_where_the_port_has_it():
    machine.sim.configure(port="esp32")
    pin = Pin(4, Pin.IN, Pin.PULL_UP)
    seen = []
    with raises(TypeError, "hard"):
        pin.irq(lambda p: None, Pin.IRQ_FALLING, hard=True)
    pin.irq(lambda p: seen.append(p.value()), Pin.IRQ_FALLING)
    for level in (0, 1, 0, 0, 1):
        machine.sim.set_input(4, level)
    assert seen == [0, 0]  # falling edges only, and no edge when the level repeats
    machine.sim.configure(port="rp2")
    pin = Pin(4, Pin.IN, Pin.PULL_UP)
    count = [0]

    def handler(p):
        count[0] += 1

    pin.irq(handler, Pin.IRQ_FALLING | Pin.IRQ_RISING, hard=True)
    for level in (0, 1, 0):
        machine.sim.set_input(4, level)
    assert count[0] == 3


def test_esp32_ledc_timers_and_defaults():
    machine.sim.configure(port="esp32s3")
    pwm = machine.PWM(Pin(4))
    assert machine.sim.pwm_state(4) == {"freq": 5000, "duty_u16": 32768}  # LEDC's 5 kHz / 50 %
    pwms = [pwm] + [machine.PWM(Pin(5 + i), freq=1000 * (i + 2), duty_u16=0) for i in range(3)]
    with raises(RuntimeError, "out of PWM timers"):
        machine.PWM(Pin(9), freq=77, duty_u16=0)
    shared = machine.PWM(Pin(10), freq=5000, duty_u16=1)  # an existing frequency: shares a timer
    assert machine.sim.pwm_state(10)["freq"] == 5000
    pwms[3].freq(6000)  # its timer is its own: reused
    with raises(RuntimeError, "out of PWM timers"):
        shared.freq(7000)
    machine.sim.configure(port="esp32c3")
    for i in range(6):
        machine.PWM(Pin(i), freq=1000, duty_u16=0)
    with raises(ValueError, "out of PWM channels"):
        machine.PWM(Pin(6), freq=1000, duty_u16=0)


def test_rp2_slices_channels_and_the_cyw43_led():
    machine.sim.configure(port="rp2")
    a = machine.PWM(Pin(8), freq=1000, duty_u16=1000)
    b = machine.PWM(Pin(9), freq=1000, duty_u16=2000)
    a.freq(2000)
    assert machine.sim.pwm_state(9) == {"freq": 2000, "duty_u16": 2000}  # same slice, same freq
    led = machine.PWM(Pin("LED"))  # GP25 is slice 4 B: the very channel GP9 drives
    led.duty_u16(5000)
    assert machine.sim.pwm_state(9)["duty_u16"] == 5000
    b.deinit()  # stops the whole slice
    assert machine.sim.pwm_state(8) is None
    machine.sim.configure(port="rp2w")
    with raises(ValueError, "expecting a regular GPIO Pin"):
        machine.PWM(Pin("LED"))
    idle = machine.PWM(Pin(2))
    assert machine.sim.pwm_state(2) is None  # rp2: nothing runs until freq and duty are set
    idle.init(freq=1000, duty_u16=100)
    assert machine.sim.pwm_state(2) == {"freq": 1000, "duty_u16": 100}


def test_loopback_and_time_pulse_us():
    machine.sim.configure(port="esp32")
    inp = Pin(27, Pin.IN)
    machine.sim.connect(26, 27)
    out = Pin(26, Pin.OUT, value=1)
    assert inp.value() == 1
    out.value(0)
    assert inp.value() == 0
    assert machine.time_pulse_us(inp, 1, 10000) == -2  # never starts
    out.value(1)
    assert machine.time_pulse_us(inp, 1, 10000) == -1  # starts at once, never ends
    pwm = machine.PWM(out, freq=1000, duty_u16=16384)
    assert machine.time_pulse_us(inp, 1) == 250
    assert machine.time_pulse_us(inp, 0) == 750
    pwm.duty_ns(600000)
    assert abs(machine.time_pulse_us(inp, 1) - 600) <= 1


def test_on_change_and_snapshot_are_json_ready():
    machine.sim.configure(port="esp32")
    changes = []
    unsubscribe = machine.sim.on_change(lambda pin_id, info: changes.append((pin_id, info["level"])))
    led = Pin(17, Pin.OUT)
    led.on()
    pwm = machine.PWM(Pin(18), freq=25000, duty_u16=100)
    pwm.duty_u16(200)
    assert (17, 1) in changes and any(p == 18 for p, _ in changes)
    count = len(changes)
    unsubscribe()
    led.off()
    assert len(changes) == count
    snap = json.loads(json.dumps(machine.sim.snapshot()))
    assert snap["port"] == "esp32"
    assert snap["pins"]["17"]["mode"] == "out" and snap["pins"]["17"]["level"] == 0
    assert snap["pins"]["18"]["pwm"] == {"freq": 25000, "duty_u16": 200}


def test_timers_reset_and_the_rest():
    machine.sim.configure(port="esp32")
    with raises(ValueError, "hard"):
        machine.Timer(0).init(period=10, callback=lambda t: None, hard=True)
    ticks = []
    timer = machine.Timer(1, period=10, callback=lambda t: ticks.append(1))
    machine.sim.advance_timers(35)
    assert len(ticks) == 3
    timer.deinit()
    machine.sim.advance_timers(50)
    assert len(ticks) == 3
    with raises(SystemExit):
        machine.reset()
    try:
        machine.reset()
    except machine.sim.Reset:
        pass
    assert len(machine.unique_id()) == 6 and machine.freq() == 160000000
    machine.sim.configure(port="rp2")
    assert len(machine.unique_id()) == 8
    machine.Timer(-1, mode=machine.Timer.ONE_SHOT, period=5, callback=lambda t: ticks.append(2), hard=True)
    machine.sim.advance_timers(20)
    assert ticks[-1] == 2 and ticks.count(2) == 1


def test_hard_irqs_run_under_heap_lock_on_micropython():
    import micropython

    machine.sim.configure(port="rp2")
    pin = Pin(3, Pin.IN)
    pin.irq(lambda p: [p, p], Pin.IRQ_RISING, hard=True)  # allocates a list
    if IS_MICROPYTHON:
        with raises(MemoryError):
            machine.sim.set_input(3, 1)
    else:
        machine.sim.set_input(3, 1)  # CPython cannot lock its heap: the shim's lock only counts
    fresh = [len(ticks) for ticks in ("a", "bb")]  # allocates: the shim unlocked the heap again
    assert fresh == [1, 2]
    if not IS_MICROPYTHON:
        assert micropython.heap_locked() == 0


def test_default_port_comes_from_the_environment():
    import os

    getenv = getattr(os, "getenv", None)
    wanted = getenv("MICROHTTP_SIM_PORT") if getenv else None
    fresh = type(machine.sim)()
    assert fresh.port == (wanted if wanted in ("esp32", "esp32s3", "esp32c3", "rp2", "rp2w") else "esp32")
    with raises(ValueError, "port must be"):
        machine.sim.configure(port="esp8266")
