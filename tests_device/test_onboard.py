"""Driver self-tests ON the board, through mpremote, on the loopback jumpers of its board file
(an output pin wired to an input pin; README.md in this folder shows the wiring per board).
The firmware is stopped while these run (mpremote interrupts it), as on a bench."""

import pytest

BUTTON_CHECK = """
import asyncio, time
from machine import Pin
from drivers.button import Button
out = Pin({out}, Pin.OUT, value=1)
pin = Pin({inp}, Pin.IN, Pin.PULL_UP)
button = Button("selftest", pin, active_low=True)
events = []
button.subscribe(lambda dev, event, data: events.append(event))

async def contact(level):
    # A bouncing contact: the level springs back twice, 3 ms apart (inside the 20 ms debounce
    # window, across the 10 ms polls), then settles.
    for v in (level, 1 - level, level, 1 - level, level):
        out.value(v)
        await asyncio.sleep_ms(3)

async def main():
    button.start()
    await asyncio.sleep_ms(60)
    await contact(0)
    await asyncio.sleep_ms(150)
    await contact(1)
    await asyncio.sleep_ms(700)  # past the double-click window: the click is reported
    button.deinit()

asyncio.run(main())
print("RESULT", events.count("press"), events.count("release"), events.count("click"), button.presses)
"""

PWM_CHECK = """
from machine import Pin, PWM, time_pulse_us
from drivers.pwm import PwmOut
pwm = PWM(Pin({out}), freq={freq}, duty_u16=0)
dev = PwmOut("selftest", pwm, freq={freq}, duty={duty})
inp = Pin({inp}, Pin.IN)
# The recipe of MicroPython's tests/extmod_hardware/machine_pwm.py: settle with two reads,
# then average ten high and ten low pulses.
time_pulse_us(inp, 1, 100000)
time_pulse_us(inp, 1, 100000)
highs = [time_pulse_us(inp, 1, 100000) for _ in range(10)]
lows = [time_pulse_us(inp, 0, 100000) for _ in range(10)]
print("RESULT", sum(highs) / 10, sum(lows) / 10, min(highs + lows))
dev.deinit()
pwm.deinit()
"""

EDGE_CHECK = """
from machine import Pin, PWM, time_pulse_us
pwm = PWM(Pin({out}), freq=1000, duty_u16={duty_u16})
inp = Pin({inp}, Pin.IN)
print("RESULT", inp.value(), time_pulse_us(inp, 1, 20000), time_pulse_us(inp, 0, 20000))
pwm.deinit()
"""


def result(output):
    for line in output.splitlines():
        if line.startswith("RESULT "):
            return [float(x) for x in line.split()[1:]]
    raise AssertionError("no RESULT line in the board's output:\n" + output)


def jumper(device, index):
    pairs = device.loopbacks()
    if len(pairs) <= index:
        pytest.skip("boards/%s.json declares no loopback jumper #%d" % (device.board_id, index + 1))
    return pairs[index]


def test_bouncing_button_on_a_jumper_gives_one_press(device):
    out, inp = jumper(device, 0)
    presses, releases, clicks, counter = result(device.onboard(BUTTON_CHECK.format(out=out, inp=inp)))
    assert (presses, releases, clicks, counter) == (1, 1, 1, 1)


@pytest.mark.parametrize("duty", [0.25, 0.5, 0.8])
def test_pwm_duty_measured_with_time_pulse_us(device, duty):
    out, inp = jumper(device, 1)
    freq = 1000
    high, low, shortest = result(device.onboard(PWM_CHECK.format(out=out, inp=inp, freq=freq, duty=duty)))
    assert shortest > 0, "time_pulse_us timed out: is the jumper %s -> %s in place?" % (out, inp)
    period = 1e6 / freq
    # esp32 tolerance in MicroPython's own PWM test (tests/extmod_hardware/machine_pwm.py): 20 us per pulse.
    assert abs(high - duty * period) <= 20
    assert abs(low - (1 - duty) * period) <= 20


@pytest.mark.parametrize("duty_u16,level", [(0, 0), (65535, 1)])
def test_pwm_at_0_and_100_percent_is_a_constant_level(device, duty_u16, level):
    out, inp = jumper(device, 1)
    value, high, low = result(device.onboard(EDGE_CHECK.format(out=out, inp=inp, duty_u16=duty_u16)))
    assert value == level
    assert high < 0 and low < 0  # both reads time out: no edges at all


def test_pwm_frequency_error_within_esp32_tolerance(hardware_only):
    device = hardware_only
    out, inp = jumper(device, 1)
    freq = 5000
    high, low, shortest = result(device.onboard(PWM_CHECK.format(out=out, inp=inp, freq=freq, duty=0.5)))
    measured = 1e6 / (high + low)
    # 0.2 % frequency error: the esp32 bound of MicroPython's machine_pwm.py test.
    assert abs(measured - freq) / freq <= 0.002, "measured %.1f Hz for %d Hz" % (measured, freq)
    device.report["pwm_5khz_measured_hz"] = round(measured, 1)
