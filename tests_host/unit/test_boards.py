"""Board files: every one loads and validates on its simulated port; broken ones fail with a
message naming the file, the device and the pin; detection from config and machine string."""

import json

import machine
from drivers.board import BoardError, board_id_for_machine, detect_board_id, load_board, validate
from drivers.chips import CHIPS
from fixtures.drivers import SIM_PORTS, board_file, board_ids
from support import IS_MICROPYTHON, raises, run

REQUIRED = ("esp32_devkitc", "esp32s3_devkitc1", "esp32s3_devkitc1_v1_0", "esp32c3_devkitm1", "rpi_pico",
            "rpi_pico_w", "rpi_pico2_w", "virtual")


def load(board_id):
    machine.sim.configure(port=SIM_PORTS[board_id])
    return load_board(board_file(board_id), machine)


def test_every_required_board_has_a_file_and_a_port():
    ids = board_ids()
    for board_id in REQUIRED:
        assert board_id in ids, board_id
    for board_id in ids:
        assert board_id in SIM_PORTS, "add %s to fixtures.drivers.SIM_PORTS" % board_id


def test_every_board_file_loads_and_validates():
    for board_id in board_ids():
        board = load(board_id)
        assert board.id == board_id and board.name
        with open(board_file(board_id)) as f:
            spec = json.load(f)
        assert [d.name for d in board.device_list] == [e["name"] for e in spec["devices"]]
        assert sorted(board.devices) == sorted(d.name for d in board.device_list)
        kinds = [d.kind for d in board.device_list]
        assert "led" in kinds and "button" in kinds and "pwm" in kinds, board_id
        assert board.loopbacks and all(len(pair) == 2 for pair in board.loopbacks)
        assert board.role("wifi_status") is not None, board_id
        json.dumps(board.describe())
        board.deinit()


def test_board_outputs_avoid_flash_strapping_and_input_only_pins():
    for board_id in board_ids():
        with open(board_file(board_id)) as f:
            spec = json.load(f)
        facts = CHIPS[spec["chip"]]
        for entry in spec["devices"]:
            pin = entry["pin"]
            if not isinstance(pin, int):
                continue
            assert pin not in facts["flash"], (board_id, entry["name"])
            if entry["kind"] != "button":
                assert pin not in facts["input_only"], (board_id, entry["name"])
                if not entry.get("onboard"):
                    assert pin not in facts["strapping"], (board_id, entry["name"])
        for out, inp in spec["loopbacks"]:
            assert out not in facts["strapping"] and inp not in facts["strapping"], (board_id, out, inp)


def test_virtual_board_has_what_the_app_needs():
    board = load("virtual")
    led, button, pwm = board.devices["led"], board.devices["button"], board.devices["pwm"]
    assert led.kind == "led" and led.state()["dimmable"] is True
    assert button.kind == "button" and pwm.kind == "pwm"
    status = board.role("wifi_status")
    assert status.kind == "led" and status is not led
    led.command({"on": True, "brightness": 0.5})
    assert 0 < machine.sim.pwm_state(16)["duty_u16"] < 32768
    board.deinit()


def test_the_s3_revisions_differ_only_in_the_led_pin():
    specs = []
    for board_id in ("esp32s3_devkitc1", "esp32s3_devkitc1_v1_0"):
        load(board_id).deinit()  # both load
        with open(board_file(board_id)) as f:
            specs.append(json.load(f))
    v11, v10 = specs
    assert v11["devices"][0]["pin"] == 38 and v10["devices"][0]["pin"] == 48
    v11["devices"][0]["pin"] = v10["devices"][0]["pin"]
    for key in ("id", "name", "revision", "notes"):
        v11.pop(key, None)
        v10.pop(key, None)
    assert v11 == v10


def test_pico_w_led_is_on_off_only():
    board = load("rpi_pico_w")
    led = board.devices["led"]
    assert led.state()["dimmable"] is False
    led.command({"on": True})
    assert machine.sim.level("LED") == 1
    board.deinit()


def base(chip="esp32", devices=None, **extra):
    spec = {"id": "broken", "name": "Broken", "chip": chip,
            "devices": [{"name": "led", "kind": "led", "pin": 23}] if devices is None else devices, "loopbacks": []}
    spec.update(extra)
    return spec


BROKEN = (
    # (spec, device, pin, message fragment)
    (base(devices=[{"name": "a", "kind": "led", "pin": 23}, {"name": "b", "kind": "pwm", "pin": 23}]),
     "b", 23, "already used by device 'a'"),
    (base(devices=[{"name": "led", "kind": "led", "pin": 6}]), "led", 6, "SPI flash"),
    (base(devices=[{"name": "led", "kind": "led", "pin": 34}]), "led", 34, "input-only"),
    (base(devices=[{"name": "led", "kind": "led", "pin": 12}]), "led", 12, "strapping"),
    (base(devices=[{"name": "led", "kind": "led", "pin": 1}]), "led", 1, "REPL"),
    (base(devices=[{"name": "led", "kind": "led", "pin": 20}]), "led", 20, "does not exist"),
    (base(devices=[{"name": "b", "kind": "button", "pin": 36, "pull": "up"}]), "b", 36, "no internal pull"),
    (base(devices=[{"name": "b", "kind": "button", "pin": 4, "mode": "irq"}]), "b", 4, "hard IRQs"),
    (base(devices=[{"name": "b", "kind": "button", "pin": 4, "long_ms": -5}]), "b", 4, "long_ms"),
    (base(chip="esp32s3", devices=[{"name": "p%d" % i, "kind": "pwm", "pin": 4 + i, "freq": 1000 + i}
                                   for i in range(5)]), "p4", 8, "out of PWM timers"),
    (base(chip="rp2040", named_pins={"LED": {"gpio": 25}},
          devices=[{"name": "led", "kind": "led", "pin": "LED", "output": "pwm", "onboard": True},
                   {"name": "fan", "kind": "pwm", "pin": 9}]), "fan", 9, "same PWM channel"),
    (base(chip="rp2040", devices=[{"name": "a", "kind": "pwm", "pin": 8, "freq": 1000},
                                  {"name": "b", "kind": "pwm", "pin": 9, "freq": 25000}]),
     "b", 9, "a slice has one frequency"),
    (base(chip="rp2040", named_pins={"LED": {"gpio": None, "note": "on the CYW43 Wi-Fi chip"}},
          devices=[{"name": "led", "kind": "led", "pin": "LED", "output": "pwm"}]), "led", "LED", "CYW43"),
    (base(chip="rp2040", reserved={"25": "CYW43 chip select"},
          devices=[{"name": "led", "kind": "led", "pin": 25}]), "led", 25, "CYW43 chip select"),
    (base(chip="rp2350", devices=[{"name": "b", "kind": "button", "pin": 5, "pull": "down"}]),
     "b", 5, "RP2350-E9"),
    (base(chip="rp2040", devices=[{"name": "b", "kind": "button", "pin": "BOOTSEL", "mode": "irq"}]),
     "b", "BOOTSEL", "polled"),
    (base(devices=[{"name": "b", "kind": "button", "pin": "BOOTSEL"}]), "b", "BOOTSEL", "unknown pin name"),
    (base(devices=[{"name": "led", "kind": "led", "pin": 23, "colour": "red"}]), "led", 23, "unknown setting"),
    (base(devices=[{"name": "led", "kind": "lamp", "pin": 23}]), "led", 23, "kind must be"),
    (base(devices=[{"name": "led", "kind": "led", "pin": 23, "active_low": "yes"}]), "led", 23,
     "active_low must be true or false"),
    (base(devices=[{"name": "led", "kind": "led", "pin": 23, "brightness": 3}]), "led", 23, "brightness"),
    (base(devices=[{"name": "led", "kind": "led", "pin": 23, "label": 5}]), "led", 23, "label must be"),
    (base(devices=[{"name": "led", "kind": "led"}]), "led", None, "needs a 'pin'"),
    (base(loopbacks=[[23, 26]]), "loopback 23->26", 23, "would drive the pin of device 'led'"),
    (base(loopbacks=[[26, 34], [34, 27]]), "loopback 34->27", 34, "already used"),
    (base(loopbacks=[[2, 26]]), "loopback 2->26", 2, "strapping"),
    (base(chip="esp33"), None, None, "unknown chip"),
    (base(colour="red"), None, None, "unknown key"),
    (base(devices=[]), None, None, "'devices' must be a non-empty list"),
)


def test_broken_boards_name_the_file_the_device_and_the_pin():
    for spec, device, pin, fragment in BROKEN:
        with raises(BoardError) as caught:
            validate(spec, "boards/broken.json")
        err = caught.value
        text = str(err)
        assert fragment in text, (fragment, text)
        assert text.startswith("boards/broken.json"), text
        assert err.device == device and err.pin == pin, (text, err.device, err.pin)
        if device is not None:
            assert ("device '%s'" % device) in text, text
        if pin is not None:
            assert ("on pin %s" % (pin,)) in text, text


def test_a_broken_board_file_on_disk_fails_with_its_path():
    path = "/tmp/microhttp-broken-board-%s.json" % ("mp" if IS_MICROPYTHON else "cp")
    with open(path, "w") as f:
        f.write(json.dumps(base(devices=[{"name": "led", "kind": "led", "pin": 7}])))
    machine.sim.configure(port="esp32")
    with raises(BoardError, path + ": device 'led' on pin 7: GPIO7 is wired to the SPI flash"):
        load_board(path, machine)
    with open(path, "w") as f:
        f.write("{not json")
    with raises(BoardError, path + ": not valid JSON"):
        load_board(path, machine)
    with raises(BoardError, "cannot read"):
        load_board(path + ".missing", machine)


def test_the_port_refusing_a_pin_is_a_board_error_and_frees_what_was_built():
    # valid for an rp2040 board file, but loaded on a simulated Pico W: the LED is the CYW43 pin
    spec = base(chip="rp2040", named_pins={"LED": {"gpio": 25}},
                devices=[{"name": "fan", "kind": "pwm", "pin": 15},
                         {"name": "led", "kind": "led", "pin": "LED", "output": "pwm", "onboard": True}])
    machine.sim.configure(port="rp2w")
    with raises(BoardError, "expecting a regular GPIO Pin") as caught:
        load_board(spec, machine)
    assert caught.value.device == "led" and caught.value.pin == "LED"
    assert machine.sim.pwm_state(15) is None  # the fan built before it was released


def test_detection_from_config_then_machine_string():
    assert detect_board_id({"board": "rpi_pico"}) == "rpi_pico"
    assert detect_board_id("esp32c3_devkitm1") == "esp32c3_devkitm1"
    assert detect_board_id({"board": ""}) == detect_board_id()
    assert detect_board_id() == "virtual"  # the unix port and CPython say "linux ..."
    expected = {"esp32": "esp32_devkitc", "esp32s3": "esp32s3_devkitc1", "esp32c3": "esp32c3_devkitm1",
                "rp2": "rpi_pico", "rp2w": "rpi_pico_w"}
    for port, board_id in expected.items():
        machine.sim.configure(port=port)
        assert board_id_for_machine(machine.sim.machine_string()) == board_id, port
    assert board_id_for_machine("Raspberry Pi Pico 2 W with RP2350") == "rpi_pico2_w"
    assert board_id_for_machine("linux [GCC 12.2.0] version") == "virtual"


def test_start_and_deinit_cancel_every_task():
    import asyncio

    board = load("virtual")

    async def main():
        board.start()
        await asyncio.sleep_ms(30) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(0.03)
        tasks = []
        for device in board.device_list:
            assert device.tasks, device.name
            tasks.extend(device.tasks)
        assert not any(t.done() for t in tasks)
        board.deinit()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return tasks

    tasks = run(main())
    assert len(tasks) == len(board.device_list)
    assert all(t.done() for t in tasks)
    assert all(not d.tasks for d in board.device_list)
    assert machine.sim.pwm_state(16) is None and machine.sim.pwm_state(18) is None


def test_unload_drops_the_boot_only_modules_and_the_board_keeps_working():
    import sys

    import drivers
    import drivers.board

    saved = dict((name, sys.modules[name]) for name in ("drivers.board", "drivers.chips"))
    board = load("virtual")
    try:
        drivers.board.unload()
        assert "drivers.board" not in sys.modules and "drivers.chips" not in sys.modules
        assert "board" not in drivers.__dict__ and "chips" not in drivers.__dict__
        board.devices["led"].command({"on": True})
        assert machine.sim.pwm_state(16)["duty_u16"] == 65535
        board.deinit()
    finally:  # other test modules hold the original classes (BoardError): put them back
        sys.modules.update(saved)
        drivers.board = saved["drivers.board"]
        drivers.chips = saved["drivers.chips"]
