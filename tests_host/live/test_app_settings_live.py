"""Settings over the API on the virtual board, both runtimes: names, hostname and networks kept
across the restart they need, the backup downloaded and uploaded, a bad upload refused with
nothing changed, the factory reset, and the password (hashed, never returned) behind itself.
"""

import json

import launch
import pytest

CPYTHON_ONLY = True

EXIT_CODES = (3, 0)  # tools/vboard/simboot.py: machine.reset() (see test_app_provisioning_live)


def _restarted(dev):
    """The board restarted by itself after answering: wait for it to end, then power it up."""
    assert dev.wait_exit() in EXIT_CODES, dev.output
    dev.restart()


def _stored(dev):
    return json.loads((dev.flash / "config.json").read_text())


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_names_hostname_and_networks_set_over_the_api_are_kept_across_the_restart(device_factory, runtime):
    dev = device_factory(runtime, nets=("home:secret99:-50", "cafe::-70"))
    labels = {"led": "Desk lamp", "status": "Wi-Fi status", "button": "Button", "pwm": "Fan"}  # boards/virtual.json
    assert dev.get("/api/settings").json() == {"hostname": "microhttp", "labels": labels, "networks": [],
                                               "password_set": False}

    # Imported by each settings request and gone after it: no RAM kept between two.
    assert "app.settings" not in dev.control(op="modules")["modules"]
    renamed = dev.put("/api/settings", {"labels": {"led": "Reading lamp", "pwm": "Ceiling fan"}})
    assert renamed.json() == {"saved": ["labels"], "rebooting": False}
    labels = {d["name"]: d["label"] for d in dev.get("/api/board").json()["devices"]}
    assert labels["led"] == "Reading lamp" and labels["pwm"] == "Ceiling fan"  # at once, no restart

    before = (dev.flash / "config.json").read_text()
    bad = dev.put("/api/settings", {"hostname": "porch light", "networks": [{"ssid": "home", "password": "secret99"}]})
    assert bad.status_code == 400 and bad.json()["field"] == "hostname"
    assert (dev.flash / "config.json").read_text() == before

    saved = dev.put("/api/settings", {"hostname": "porch",
                                      "networks": [{"ssid": "cafe", "password": ""},
                                                   {"ssid": "home", "password": "secret99"}]})
    assert saved.status_code == 200 and saved.json() == {"saved": ["hostname", "networks"], "rebooting": True}
    _restarted(dev)
    assert "ready: wifi connected" in dev.output
    health = dev.get("/api/health").json()
    assert health["hostname"] == "porch" and health["wifi"]["rssi"] == -70  # the first network listed
    assert dev.get("/api/settings").json()["networks"] == [{"ssid": "cafe"}, {"ssid": "home"}]
    labels = {d["name"]: d["label"] for d in dev.get("/api/board").json()["devices"]}
    assert labels["led"] == "Reading lamp" and labels["pwm"] == "Ceiling fan"

    # Reordered and trimmed without the passwords, which stay on the board.
    assert dev.put("/api/settings", {"networks": [{"ssid": "home"}]}).status_code == 200
    _restarted(dev)
    assert _stored(dev)["wifi"]["networks"] == [{"ssid": "home", "password": "secret99"}]
    assert dev.get("/api/health").json()["wifi"]["rssi"] == -50

    assert dev.post("/api/settings/restart", {}).json() == {"rebooting": True}
    _restarted(dev)
    assert dev.get("/api/health").json()["hostname"] == "porch"


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_the_backup_goes_back_whole_or_not_at_all_and_a_factory_reset_starts_afresh(device_factory, runtime):
    dev = device_factory(runtime, config={"hostname": "porch", "labels": {"led": "Reading lamp"},
                                          "wifi": {"networks": [{"ssid": "home", "password": "secret99"}]}},
                         nets=("home:secret99:-50",))
    backup = dev.get("/api/settings/config")
    assert backup.status_code == 200
    assert backup.headers["content-disposition"] == 'attachment; filename="porch-config.json"'
    data = backup.json()
    assert data["hostname"] == "porch" and data["labels"] == {"led": "Reading lamp"} and "auth" not in data

    before = (dev.flash / "config.json").read_text()
    for upload, field in (({"hostname": "porch", "power_on": {"led": "maybe"}}, "power_on.led"),
                          ({"name": "Virtual board", "devices": []}, "name")):
        bad = dev.put("/api/settings/config", upload)
        assert bad.status_code == 400 and bad.json()["field"] == field, bad.text
    too_big = dev.put("/api/settings/config", dict(data, padding="x" * 5000))
    assert too_big.status_code == 413
    assert (dev.flash / "config.json").read_text() == before

    data["hostname"] = "garden"
    data["power_on"] = {"pwm": "on"}
    put = dev.put("/api/settings/config", data)
    assert put.status_code == 202 and put.json() == {"saved": True, "rebooting": True}
    _restarted(dev)
    assert dev.get("/api/health").json()["hostname"] == "garden"
    assert dev.get("/api/devices/pwm").json()["state"]["duty"] == 1  # "on" at power-up, as uploaded

    dev.post("/api/devices/led", {"on": True})
    unconfirmed = dev.post("/api/settings/factory-reset", {})
    assert unconfirmed.status_code == 400 and unconfirmed.json()["field"] == "confirm"
    assert dev.post("/api/settings/factory-reset", {"confirm": True}).status_code == 202
    _restarted(dev)
    assert not (dev.flash / "state.json").exists()
    board = dev.get("/api/board").json()
    assert board["wifi"]["state"] == "ap"  # no network saved: setup mode, as a new board
    assert dev.get("/api/health").json()["hostname"] == "microhttp"
    assert {d["name"]: d["label"] for d in board["devices"]}["led"] == "Desk lamp"  # the board file's
    assert dev.get("/api/devices/led").json()["state"]["on"] is False


@pytest.mark.parametrize("runtime", launch.APP_RUNTIMES)
def test_the_password_is_changed_only_with_the_current_one_and_never_returned(device_factory, runtime):
    dev = device_factory(runtime, config={"auth": {"password": "correct horse"}})
    for method, path in (("GET", "/api/settings"), ("PUT", "/api/settings"), ("POST", "/api/settings/restart"),
                         ("GET", "/api/settings/config"), ("PUT", "/api/settings/config"), ("POST", "/api/settings/factory-reset")):
        with dev.client() as c:
            assert c.request(method, path, json={}).status_code == 401, path
    owner = ("", "correct horse")
    assert dev.get("/api/settings", auth=owner).json()["password_set"] is True
    assert "pbkdf2" not in dev.get("/api/settings/config", auth=owner).text

    with dev.client(auth=owner) as c:
        missing = c.put("/api/settings", json={"password": "battery staple"})
        assert missing.status_code == 400 and missing.json()["field"] == "current_password"
        short = c.put("/api/settings", json={"password": "short", "current_password": "correct horse"})
        assert short.status_code == 400 and short.json()["field"] == "password"
        changed = c.put("/api/settings", json={"password": "battery staple", "current_password": "correct horse"})
        assert changed.json() == {"saved": ["password"], "rebooting": True}
    stored = _stored(dev)["auth"]["password"]
    assert stored.startswith("pbkdf2-sha256$") and "battery staple" not in stored
    _restarted(dev)
    assert dev.post("/api/login", {"password": "correct horse"}).status_code == 401
    assert dev.post("/api/login", {"password": "battery staple"}).status_code == 200
