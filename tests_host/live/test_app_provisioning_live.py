"""Provisioning on the virtual board: a failing station falls back to the setup AP, the setup
page's API saves credentials, the board reboots and joins; a corrupt config boots with defaults.

Runs the real flash image (tools/build_image.py) under tools/vboard/simboot.py on both runtimes.
"""

import json
import socket

import launch
import pytest
from dns_messages import parse_a, query

CPYTHON_ONLY = True

EXIT_HARD_RESET = 3  # tools/vboard/simboot.py: machine.reset() ends the process with this


def _dns_lookup(port, name):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(query(name, ident=4242), ("127.0.0.1", port))
        return parse_a(s.recvfrom(512)[0])


@pytest.mark.parametrize("runtime", launch.RUNTIMES)
def test_failed_join_opens_setup_ap_and_saved_network_survives_reboot(device_factory, runtime):
    cfg = {"wifi": {"networks": [{"ssid": "home", "password": "wrong-one"}], "attempts": 2,
                    "connect_timeout_ms": 500}, "hostname": "porch"}
    dev = device_factory(runtime, config=cfg, nets=("home:secret99:-50", "cafe::-80"))
    out = dev.proc.wait_for(r"ready: wifi")
    assert "ready: wifi ap" in out, dev.output
    assert "wrong password" in dev.output
    assert "retrying in" in dev.output  # backoff between rounds

    board = dev.get("/api/board").json()
    assert board["wifi"]["state"] == "ap" and board["wifi"]["ssid"] == "porch-setup"
    status = [d for d in board["devices"] if d["name"] == "status"][0]["state"]
    assert status["on"] is True and status["pattern"] == "heartbeat"  # the LED says "setup mode"
    scan = dev.get("/api/wifi/scan").json()["networks"]
    assert [n["ssid"] for n in scan] == ["home", "cafe"]
    assert scan[0]["secure"] is True and scan[1]["secure"] is False

    # Captive portal: every name resolves to the device, every unknown page leads to the setup page.
    ident, flags, addrs = _dns_lookup(dev.dns_port, "connectivitycheck.gstatic.com")
    assert ident == 4242 and addrs == ["127.0.0.1"]
    probe = dev.get("/generate_204")
    assert probe.status_code == 302 and probe.headers["location"] == "http://127.0.0.1:%d/" % dev.http_port

    bad = dev.post("/api/wifi", {"ssid": "home", "password": "short"})
    assert bad.status_code == 400 and bad.json()["field"] == "password"
    bad = dev.post("/api/wifi", {"ssid": "", "password": "secret99"})
    assert bad.status_code == 400 and bad.json()["field"] == "ssid"
    assert json.loads((dev.flash / "config.json").read_text())["wifi"]["networks"][0]["password"] == "wrong-one"

    saved = dev.post("/api/wifi", {"ssid": "home", "password": "secret99"})
    assert saved.status_code == 202 and saved.json() == {"saved": "home", "rebooting": True}
    # The board ends by itself: main.py returned "reboot" and called machine.reset(). simboot
    # maps the shim's ResetRequested to exit code 3; while its run_file() still swallows every
    # SystemExit (ResetRequested is one), the process ends with 0 instead.
    assert dev.wait_exit() in (EXIT_HARD_RESET, 0), dev.output
    assert "rebooting" in dev.output
    stored = json.loads((dev.flash / "config.json").read_text())
    assert stored["wifi"]["networks"][0] == {"ssid": "home", "password": "secret99"}
    assert stored["hostname"] == "porch"  # the rest of the config is kept
    assert not (dev.flash / "config.json.tmp").exists()

    dev.restart()  # the power-on after the reset: a fresh interpreter on the same flash
    out = dev.proc.wait_for(r"ready: wifi")
    assert "ready: wifi connected" in out, dev.output
    board = dev.get("/api/board").json()
    assert board["wifi"]["state"] == "connected" and board["wifi"]["ssid"] == "home"
    status = [d for d in board["devices"] if d["name"] == "status"][0]["state"]
    assert status["on"] is False and status["pattern"] == "off"  # joined: blinking stopped
    assert "wifi: joining 'home'" in dev.output
    assert not [p for p in board["problems"] if "config" in p]
    assert dev.get("/api/health").json()["wifi"] == {"state": "connected", "rssi": -50, "ip": "127.0.0.1"}


@pytest.mark.parametrize("runtime", launch.RUNTIMES)
def test_corrupt_config_boots_with_defaults_and_says_so(device_factory, tmp_path, runtime):
    from fixtures.app import make_image

    flash = make_image(tmp_path)
    (flash / "config.json").write_text('{"wifi": {"networks": [{"ssid": "ho')  # cut off mid-write
    dev = device_factory(runtime, flash=flash, nets=("home:secret99",))
    dev.proc.wait_for(r"ready: wifi ap")
    assert "config: config.json is corrupt" in dev.output
    board = dev.get("/api/board").json()
    assert board["hostname"] == "microhttp"
    assert any("corrupt" in p for p in board["problems"])
    assert board["wifi"]["state"] == "ap"


@pytest.mark.parametrize("runtime", launch.RUNTIMES)
def test_missing_config_boots_with_defaults(device_factory, tmp_path, runtime):
    from fixtures.app import make_image

    flash = make_image(tmp_path)
    (flash / "config.json").unlink()
    dev = device_factory(runtime, flash=flash)
    dev.proc.wait_for(r"ready: wifi ap")
    assert any("missing" in p for p in dev.get("/api/board").json()["problems"])
