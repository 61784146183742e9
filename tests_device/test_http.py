"""HTTP against the board's address, with the firmware running (deployed by the session)."""

import gzip

import httpx


def test_board_lists_the_devices_of_its_board_file(firmware):
    r = httpx.get(firmware.http + "/api/board", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    names = [d["name"] for d in r.json()["devices"]]
    assert names == [d["name"] for d in firmware.spec["devices"]]


def test_the_page_is_served_gzipped(firmware):
    r = httpx.get(firmware.http + "/", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert b"<html" in r.content.lower() or b"<!doctype html" in r.content.lower()
    assert len(r.content) > len(gzip.compress(b"")) and int(r.headers["content-length"]) < len(r.content)


def test_a_command_drives_the_pin(firmware):
    pwm = next((d for d in firmware.spec["devices"] if d["kind"] == "pwm"), None)
    assert pwm is not None, "the board file has no pwm device"
    r = httpx.post(firmware.http + "/api/devices/" + pwm["name"], json={"duty": 0.5}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["state"]["duty"] == 0.5
    if firmware.control is not None:  # the virtual board can look at the pin itself
        state = firmware.control.pwm(pwm["pin"])
        assert state is not None and abs(state["duty_u16"] - 32768) <= 1


def test_errors_carry_their_status(firmware):
    assert httpx.get(firmware.http + "/api/devices/no-such-device", timeout=10).status_code == 404
    r = httpx.post(firmware.http + "/api/devices/led", content=b"duty=1",
                   headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert r.status_code == 415
