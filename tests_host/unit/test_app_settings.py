"""app.settings: names, hostname, password and networks changed from the page, the backup and
its upload, the factory reset; every change checked whole first, a bad field named and nothing
written (both runtimes)."""

import json
import os

import machine
from app import config, settings
from drivers import Button, Led, PwmOut
from support import raises, remove_atomically_written, temporary_json_path


class _Firmware:
    """The parts of app.firmware.Firmware that app.settings uses: the settings as loaded, the
    config's path, the devices."""

    def __init__(self, stored=None):
        machine.sim.configure(port="esp32")
        lamp = Led("lamp", pwm=machine.PWM(machine.Pin(16, machine.Pin.OUT), freq=1000, duty_u16=0))
        fan = PwmOut("fan", machine.PWM(machine.Pin(18, machine.Pin.OUT), freq=25000, duty_u16=0), freq=25000)
        button = Button("button", machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP))
        self.device_list = [lamp, fan, button]
        self.devices = {device.name: device for device in self.device_list}
        self.power_on = None
        self.folder = temporary_json_path("mhsettings")[:-len(".json")]  # its own: state.json goes beside
        os.mkdir(self.folder)
        self.config_path = self.folder + "/config.json"
        data = config.defaults()
        data.update(stored or {})
        config.save(self.config_path, data)
        self.settings = config.load(self.config_path)[0]

    def stored(self):
        with open(self.config_path) as f:
            return json.load(f)

    def remove(self):
        from app.power_on import FILENAME

        remove_atomically_written(self.config_path)
        remove_atomically_written(self.folder + "/" + FILENAME)
        os.rmdir(self.folder)


def _home():
    return {"wifi": {"networks": [{"ssid": "home", "password": "secret99"}, {"ssid": "cafe", "password": ""}],
                     "connect_timeout_ms": 15000, "attempts": 3, "ap": {"ssid": "", "password": ""}}}


def test_the_settings_report_names_and_networks_but_no_password():
    firmware = _Firmware(_home())
    try:
        firmware.settings["auth"]["password"] = "pbkdf2-sha256$..."
        report = settings.current(firmware)
        assert report == {"hostname": "microhttp", "labels": {"lamp": "lamp", "fan": "fan", "button": "button"},
                          "networks": [{"ssid": "home"}, {"ssid": "cafe"}], "password_set": True}
        assert "secret99" not in json.dumps(report)
    finally:
        firmware.remove()


def test_a_new_name_applies_at_once_and_is_saved_without_a_restart():
    firmware = _Firmware()
    try:
        saved, restart = settings.change(firmware, {"labels": {"lamp": " Desk lamp "}}, None)
        assert saved == ["labels"] and restart is False
        assert firmware.devices["lamp"].label == "Desk lamp"
        assert firmware.stored()["labels"] == {"lamp": "Desk lamp"}
        settings.change(firmware, {"labels": {"fan": "Ceiling fan"}}, None)
        assert firmware.stored()["labels"] == {"lamp": "Desk lamp", "fan": "Ceiling fan"}  # the others kept
    finally:
        firmware.remove()


def test_a_bad_field_is_named_and_nothing_is_written():
    firmware = _Firmware(_home())
    try:
        before = firmware.stored()
        for body, field in (
                ({"hostname": "kitchen lamp"}, "hostname"),
                ({"hostname": "-lamp"}, "hostname"),
                ({"hostname": "x" * 33}, "hostname"),
                ({"hostname": "küche"}, "hostname"),
                ({"labels": {"heater": "Heater"}}, "labels.heater"),
                ({"labels": {"lamp": ""}}, "labels.lamp"),
                ({"labels": {"lamp": "a\nb"}}, "labels.lamp"),
                ({"labels": ["lamp"]}, "labels"),
                ({"networks": [{"ssid": "new"}]}, "networks[0].password"),
                ({"networks": [{"ssid": "home"}, {"ssid": "home"}]}, "networks[1].ssid"),
                ({"networks": [{"ssid": "new", "password": "short"}]}, "networks[0].password"),
                ({"networks": [{"ssid": "n%d" % i, "password": ""} for i in range(9)]}, "networks"),
                ({"networks": [{"ssid": "home", "pass": "x"}]}, "networks[0].pass"),
                ({"password": "short"}, "password"),
                ({"current_password": "x"}, "current_password"),
                ({"colour": "red"}, "colour"),
                # One good field and one bad: neither is saved.
                ({"hostname": "porch", "labels": {"lamp": ""}}, "labels.lamp"),
        ):
            with raises(ValueError) as refused:
                settings.change(firmware, body, None)
            assert refused.value.field == field, (body, refused.value)
            assert firmware.stored() == before, body
        assert firmware.settings["hostname"] == "microhttp" and firmware.devices["lamp"].label == "lamp"
    finally:
        firmware.remove()


def test_networks_are_reordered_removed_and_added_keeping_the_saved_passwords():
    firmware = _Firmware(_home())
    try:
        saved, restart = settings.change(
            firmware, {"networks": [{"ssid": "office", "password": "office-pw"}, {"ssid": "home"}]}, None)
        assert saved == ["networks"] and restart is True  # Wi-Fi reads them at start-up
        assert firmware.stored()["wifi"]["networks"] == [{"ssid": "office", "password": "office-pw"},
                                                         {"ssid": "home", "password": "secret99"}]
        assert firmware.stored()["wifi"]["attempts"] == 3  # the rest of the Wi-Fi settings kept
    finally:
        firmware.remove()


def test_the_password_is_stored_hashed_and_changing_it_needs_the_current_one():
    firmware = _Firmware()
    try:
        saved, restart = settings.change(firmware, {"password": "correct horse"}, None)
        assert saved == ["password"] and restart is True
        stored = firmware.stored()["auth"]["password"]
        assert stored and "correct horse" not in stored
        from microhttp.passwords import verify_secret

        assert verify_secret("correct horse", stored)
        tried = []

        def password_ok(candidate):
            tried.append(candidate)
            return candidate == "correct horse"

        with raises(ValueError) as refused:
            settings.change(firmware, {"password": "battery staple"}, password_ok)
        assert refused.value.field == "current_password" and tried == [None]
        with raises(ValueError):
            settings.change(firmware, {"password": "battery staple", "current_password": "wrong"}, password_ok)
        assert firmware.stored()["auth"]["password"] == stored
        settings.change(firmware, {"password": "", "current_password": "correct horse"}, password_ok)
        assert firmware.stored()["auth"]["password"] == ""  # turned off
    finally:
        firmware.remove()


def test_the_backup_leaves_the_password_out_and_an_upload_of_it_keeps_the_boards():
    firmware = _Firmware(_home())
    try:
        firmware.settings["auth"]["password"] = "pbkdf2-sha256$kept"
        firmware.settings["hostname"] = "porch"
        backup = settings.backup(firmware)
        assert "auth" not in backup and backup["hostname"] == "porch"
        assert backup["wifi"]["networks"][0]["password"] == "secret99"  # a new board needs it
        backup["hostname"] = "garden"
        settings.restore(firmware, json.loads(json.dumps(backup)))
        stored = firmware.stored()
        assert stored["hostname"] == "garden" and stored["auth"]["password"] == "pbkdf2-sha256$kept"
        assert stored["wifi"]["networks"] == _home()["wifi"]["networks"]
    finally:
        firmware.remove()


def test_an_upload_is_checked_whole_and_a_bad_one_changes_nothing():
    firmware = _Firmware(_home())
    try:
        before = firmware.stored()
        good_binding = {"button": "button", "event": "click", "device": "lamp", "command": {"toggle": True}}
        for upload, field in (
                ([1, 2], "config"),
                ({"hostname": 5}, "hostname"),
                ({"wifi": {"networks": "home"}}, "wifi.networks"),
                ({"wifi": {"networks": [{"ssid": "home", "password": "short"}]}}, "wifi.networks[0].password"),
                ({"wifi": {"ap": {"ssid": "x", "password": "short"}}}, "wifi.ap.password"),
                ({"wifi": {"chanel": 6}}, "wifi.chanel"),
                ({"http_port": 0}, "http_port"),
                ({"labels": {"heater": "Heater"}}, "labels.heater"),
                ({"power_on": {"lamp": "sometimes"}}, "power_on.lamp"),
                ({"power_on": {"heater": "on"}}, "power_on.heater"),
                ({"power_on": {"button": "on"}}, "power_on.button"),  # an input: nothing to switch
                ({"status_led": "heater"}, "status_led"),
                ({"bindings": [good_binding, dict(good_binding, command={"brightness": 2})]},
                 "bindings[1].command.brightness"),
                ({"devices": []}, "devices"),  # a board file, not a configuration
        ):
            with raises(ValueError) as refused:
                settings.restore(firmware, upload)
            assert refused.value.field == field, (upload, refused.value)
            assert firmware.stored() == before, upload
        settings.restore(firmware, {"hostname": "porch", "bindings": [good_binding], "power_on": {"fan": "off"},
                                    "auth": {"password": "typed in a file"}})
        stored = firmware.stored()
        assert stored["bindings"] == [good_binding] and stored["power_on"] == {"fan": "off"}
        assert stored["wifi"]["networks"] == []  # the upload is the whole configuration
        assert stored["auth"]["password"] and stored["auth"]["password"] != "typed in a file"
    finally:
        firmware.remove()


def test_a_factory_reset_forgets_the_configuration_and_the_outputs_state():
    firmware = _Firmware(_home())
    from app.power_on import FILENAME
    from app.storage import beside

    state = beside(firmware.config_path, FILENAME)
    try:
        with open(state, "w") as f:
            f.write("{}")
        settings.factory_reset(firmware)
        for path in (firmware.config_path, state):
            with raises(OSError):
                os.stat(path)
        settings.factory_reset(firmware)  # nothing left to forget: no error
    finally:
        firmware.remove()
