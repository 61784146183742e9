"""After a power cut the outputs come back as they were (config.json's power_on, "restore" by
default): the lamp and the fan are set, /api/health says their state is on flash, the board is
reset (on the virtual board its process is killed and started again, as a power cut does; the
firmware gets no chance to save anything then), and they are read back."""

import time

import httpx

SAVED_WITHIN_S = 20  # the firmware writes a change 5 s after it (app.power_on)


def _outputs(device):
    lamp = next(d for d in device.spec["devices"] if d["kind"] == "led" and d.get("role") != "wifi_status")
    fan = next(d for d in device.spec["devices"] if d["kind"] == "pwm")
    return lamp["name"], fan["name"]


def _command(device, name, command):
    r = httpx.post(device.http + "/api/devices/" + name, json=command, timeout=10)
    assert r.status_code == 200, r.text


def _wait_until_saved(device):
    deadline = time.monotonic() + SAVED_WITHIN_S
    while time.monotonic() < deadline:
        if device.health()["state_saved"]:
            return
        time.sleep(0.5)
    raise AssertionError("/api/health did not report the outputs' state saved within %d s" % SAVED_WITHIN_S)


def _states(device):
    r = httpx.get(device.http + "/api/devices", timeout=10)
    assert r.status_code == 200, r.text
    return {d["name"]: d["state"] for d in r.json()["devices"]}


def test_the_lamp_and_the_fan_come_back_as_they_were_after_a_power_cut(firmware):
    lamp, fan = _outputs(firmware)
    try:
        _command(firmware, lamp, {"on": True, "brightness": 0.4})
        _command(firmware, fan, {"duty": 0.6})
        _wait_until_saved(firmware)
        firmware.firmware_running = False
        firmware.ensure_firmware()  # a hard reset, then the firmware answers again
        states = _states(firmware)
        assert states[lamp]["on"] is True and states[lamp]["brightness"] == 0.4
        assert states[fan]["duty"] == 0.6
        if firmware.control is not None:  # the virtual board looks at the pins themselves
            assert abs(firmware.control.pwm(next(d["pin"] for d in firmware.spec["devices"]
                                                 if d["name"] == fan))["duty_u16"] - 39321) <= 1
    finally:
        _command(firmware, lamp, {"on": False, "brightness": 1.0})
        _command(firmware, fan, {"duty": 0})
        _wait_until_saved(firmware)  # the next boot starts with both off again
