"""app.power_on and the drivers' restore commands: what each output does at power-up (off, on,
restore), and the saved state: coalesced writes, a write before a reboot, bad files and bad
modes reported without changing anything. Both runtimes; the outputs run on a virtual clock."""

import json

import machine
from app import power_on, storage
from drivers import Button, Led, PwmOut
from support import remove_atomically_written, run, temporary_json_path
from vclock import VirtualClock

FULL = 65535


def _board():
    """A fresh board after a power-up: a dimmable lamp, a status LED, a fan and a button."""
    machine.sim.configure(port="esp32")
    clock = VirtualClock(1000)
    lamp = Led("lamp", pwm=machine.PWM(machine.Pin(16, machine.Pin.OUT), freq=1000, duty_u16=0), clock=clock)
    status = Led("status", pin=machine.Pin(17, machine.Pin.OUT), clock=clock)
    fan = PwmOut("fan", machine.PWM(machine.Pin(18, machine.Pin.OUT), freq=25000, duty_u16=0), freq=25000,
                 clock=clock)
    button = Button("button", machine.Pin(4, machine.Pin.IN), clock=clock)
    return [lamp, status, fan, button], clock


def _write(path, data):
    with open(path, "w") as f:
        f.write(data if isinstance(data, str) else json.dumps(data))


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_an_led_comes_back_as_it_was_from_its_restore_command():
    for command in ({"on": True, "brightness": 0.4}, {"pattern": "pulse", "period_ms": 2000, "brightness": 0.7},
                    {"on": False, "brightness": 0.3}, {"pattern": "heartbeat"}):
        (lamp, _, _, _), _ = _board()
        lamp.command(command)
        before = lamp.state()
        (fresh, _, _, _), _ = _board()
        fresh.command(json.loads(json.dumps(lamp.restore_command())))  # as stored in the file
        after = fresh.state()
        for key in ("on", "brightness", "pattern", "period_ms"):
            assert after[key] == before[key], (command, key, before, after)


def test_a_fan_comes_back_at_its_speed_or_where_its_fade_ends():
    (_, _, fan, _), clock = _board()
    fan.command({"duty": 0.6})
    assert fan.restore_command() == {"freq": 25000, "duty_u16": 39321}
    fan.command({"fade": {"to": 0.2, "ms": 1000}})
    clock.advance(300)
    fan.tick()
    assert fan.restore_command()["duty_u16"] == 13107  # the target, not the duty on the way
    fan.command({"sequence": {"steps": [{"to": 1, "ms": 500}, {"to": 0.5, "ms": 500}], "repeat": -1}})
    assert fan.restore_command()["duty_u16"] == 32768  # for ever: its last step's level
    (_, _, fresh, _), _ = _board()
    fresh.command(fan.restore_command())
    assert fresh.state()["duty_u16"] == 32768


def test_inputs_have_nothing_to_restore_and_outputs_say_how_to_switch_on():
    (lamp, status, fan, button), _ = _board()
    assert button.restore_command() is None and button.ON_COMMAND is None
    assert lamp.ON_COMMAND == {"on": True} and fan.ON_COMMAND == {"duty": 1.0}


def test_restore_brings_back_the_saved_state_and_the_modes_apply():
    path = temporary_json_path("mhstate")
    try:
        _write(path, {"lamp": {"on": True, "brightness": 0.5}, "fan": {"freq": 25000, "duty_u16": 45875}})
        devices, _ = _board()
        power_on.PowerOn(devices, {}, path, status_led=devices[1]).restore()
        assert devices[0].state()["on"] is True and devices[0].state()["brightness"] == 0.5
        assert devices[2].state()["duty_u16"] == 45875
        assert devices[1].state()["on"] is False  # the status LED is the Wi-Fi state's

        devices, _ = _board()
        power_on.PowerOn(devices, {"lamp": "off", "fan": "on"}, path, status_led=devices[1]).restore()
        assert devices[0].state()["on"] is False
        assert devices[2].state()["duty_u16"] == FULL
    finally:
        remove_atomically_written(path)


def test_a_first_boot_without_a_state_file_starts_every_output_off():
    path = temporary_json_path("mhstate")
    devices, _ = _board()
    problems = []
    keeper = power_on.PowerOn(devices, {}, path, problems, status_led=devices[1])
    keeper.restore()
    assert problems == []
    assert devices[0].state()["on"] is False and devices[2].state()["duty_u16"] == 0
    assert json.loads(keeper.saved) == {"lamp": devices[0].restore_command(), "fan": devices[2].restore_command()}


def test_bad_modes_and_names_are_reported_and_ignored():
    devices, _ = _board()
    problems = []
    keeper = power_on.PowerOn(devices, {"lamp": "dim", "porch": "on", "status": "on", "button": "on"}, temporary_json_path("mhstate"),
                              problems, status_led=devices[1])
    assert [(device.name, mode) for device, mode in keeper.plan] == [("lamp", "restore"), ("fan", "restore")]
    assert "power_on.lamp must be off, on or restore; using restore" in problems
    assert "power_on.porch: the board has no output of that name; ignored" in problems
    assert "power_on.button: the board has no output of that name; ignored" in problems
    assert any(p.startswith("power_on.status: the Wi-Fi status LED") for p in problems)
    assert len(problems) == 4


def test_a_corrupt_or_foreign_state_file_changes_nothing_and_says_why():
    path = temporary_json_path("mhstate")
    try:
        for content, expected in (('{"lamp": {"on": tr', "is corrupt"), ("[1, 2]", "is not a JSON object")):
            _write(path, content)
            devices, _ = _board()
            problems = []
            power_on.PowerOn(devices, {}, path, problems).restore()
            assert len(problems) == 1 and expected in problems[0], problems
            assert devices[0].state()["on"] is False
        # A state from another board file: the command schema refuses it, field named.
        _write(path, {"lamp": {"on": True, "brightness": 7}, "fan": {"duty_u16": 1000}})
        devices, _ = _board()
        problems = []
        power_on.PowerOn(devices, {}, path, problems).restore()
        assert problems == ["power_on.lamp: the saved state was not applied (brightness: must be between 0 and 1)"]
        assert devices[0].state()["on"] is False and devices[2].state()["duty_u16"] == 1000
    finally:
        remove_atomically_written(path)


def _counting_writes():
    writes = []
    real = storage.write_text

    def counted(path, text):
        writes.append(text)
        real(path, text)

    storage.write_text = counted
    return writes, real


def test_changes_are_written_once_after_the_delay_together():
    path = temporary_json_path("mhstate")
    writes, real = _counting_writes()
    delay = power_on.SAVE_DELAY_MS
    power_on.SAVE_DELAY_MS = 50
    try:
        devices, _ = _board()
        lamp, fan = devices[0], devices[2]
        keeper = power_on.PowerOn(devices, {}, path, status_led=devices[1])

        async def main():
            import asyncio

            keeper.restore()
            for step in range(20):  # a slider dragged: twenty commands in a row
                lamp.command({"brightness": step / 20})
                await asyncio.sleep(0.001)
            fan.command({"duty": 0.25})
            assert writes == [] and keeper.unsaved
            await asyncio.sleep(0.2)
            lamp.command({"brightness": 0.95})  # what it was: nothing to write
            await asyncio.sleep(0.2)

        run(main())
        assert len(writes) == 1
        assert _read(path) == {"lamp": lamp.restore_command(), "fan": {"freq": 25000, "duty_u16": 16384}}
        assert not keeper.unsaved
    finally:
        power_on.SAVE_DELAY_MS = delay
        storage.write_text = real
        remove_atomically_written(path)


def test_stop_writes_what_is_pending_before_a_reboot():
    path = temporary_json_path("mhstate")
    try:
        devices, _ = _board()
        keeper = power_on.PowerOn(devices, {"fan": "off"}, path, status_led=devices[1])

        async def main():
            keeper.restore()
            devices[0].command({"on": True, "brightness": 0.25})
            devices[2].command({"duty": 0.5})  # "off" at power-up: not kept
            assert keeper.unsaved
            keeper.stop()

        run(main())
        assert _read(path) == {"lamp": {"on": True, "brightness": 0.25, "transition_ms": 0}}
        devices[0].command({"on": False})
        assert not keeper.unsaved  # no longer followed
    finally:
        remove_atomically_written(path)


def test_a_failed_write_is_reported_and_tried_again_at_the_next_change():
    logged = []
    devices, _ = _board()
    keeper = power_on.PowerOn(devices, {}, "/nonexistent-folder/state.json", log=logged.append)

    async def main():
        keeper.restore()
        devices[0].command({"on": True})
        assert keeper.save() is False
        devices[0].command({"brightness": 0.5})
        assert keeper.unsaved  # due again
        keeper.stop()

    run(main())
    assert len(logged) == 2 and "not saved" in logged[0]
