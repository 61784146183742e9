"""app.config: defaults, corrupt and partial files, atomic saves (both runtimes)."""

import json
import os

from app import config
from support import remove_atomically_written, temporary_json_path


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_missing_file_gives_defaults_and_says_so():
    path = temporary_json_path("mhcfg")
    cfg, problems = config.load(path)
    assert cfg["http_port"] == 80
    assert cfg["wifi"]["networks"] == []
    assert cfg["auth"]["password"] == ""
    assert len(problems) == 1 and "missing" in problems[0]


def test_corrupt_file_gives_defaults_and_says_so():
    path = temporary_json_path("mhcfg")
    try:
        _write(path, '{"hostname": "half-writ')
        cfg, problems = config.load(path)
        assert cfg == config.defaults()
        assert "corrupt" in problems[0]
        _write(path, "[1, 2]")
        assert "not a JSON object" in config.load(path)[1][0]
    finally:
        remove_atomically_written(path)


def test_wrong_types_fall_back_per_key_and_keep_the_rest():
    path = temporary_json_path("mhcfg")
    try:
        _write(path, json.dumps({
            "hostname": "kitchen", "http_port": "eighty", "auth": "x",
            "wifi": {"networks": [{"ssid": "home", "password": "pw"}, {"ssid": 3}, "junk"],
                     "attempts": 5},
        }))
        cfg, problems = config.load(path)
        assert cfg["hostname"] == "kitchen"
        assert cfg["http_port"] == 80
        assert cfg["auth"]["password"] == ""
        assert cfg["wifi"]["attempts"] == 5
        assert cfg["wifi"]["networks"] == [{"ssid": "home", "password": "pw"}]
        text = " | ".join(problems)
        assert "http_port" in text and "auth" in text and "wifi.networks" in text
    finally:
        remove_atomically_written(path)


def test_out_of_range_port_is_reported():
    path = temporary_json_path("mhcfg")
    try:
        _write(path, '{"http_port": 70000}')
        cfg, problems = config.load(path)
        assert cfg["http_port"] == 80
        assert "http_port" in problems[0]
    finally:
        remove_atomically_written(path)


def test_save_is_atomic_and_round_trips():
    path = temporary_json_path("mhcfg")
    try:
        cfg = config.load(path)[0]
        cfg["hostname"] = "porch"
        config.save(path, cfg)
        assert not _exists(path + ".tmp")  # renamed, not left behind
        again, problems = config.load(path)
        assert problems == []
        assert again["hostname"] == "porch"
        # Overwrite an existing file: rename must replace it.
        config.add_network(again, "home", "secret", path)
        config.add_network(again, "cafe", "", path)
        config.add_network(again, "home", "newer", path)
        nets = config.load(path)[0]["wifi"]["networks"]
        assert nets == [{"ssid": "home", "password": "newer"}, {"ssid": "cafe", "password": ""}]
    finally:
        remove_atomically_written(path)


def test_interrupted_write_leaves_the_old_file():
    path = temporary_json_path("mhcfg")
    try:
        config.save(path, {"hostname": "old"})
        _write(path + ".tmp", '{"hostname": "ne')  # power cut before the rename
        cfg, problems = config.load(path)
        assert cfg["hostname"] == "old" and problems == []
    finally:
        remove_atomically_written(path)


def test_network_list_is_bounded():
    path = temporary_json_path("mhcfg")
    try:
        cfg = config.load(path)[0]
        for i in range(12):
            config.add_network(cfg, "net%d" % i, "pw", path)
        nets = config.load(path)[0]["wifi"]["networks"]
        assert len(nets) == 8 and nets[0]["ssid"] == "net11"
    finally:
        remove_atomically_written(path)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def test_power_on_is_taken_as_a_map_and_refused_when_not_an_object():
    # Its entries name the board's devices: app.power_on checks them against the board.
    path = temporary_json_path("mhcfg")
    try:
        _write(path, json.dumps({"power_on": {"lamp": "on", "fan": "off"}}))
        cfg, problems = config.load(path)
        assert cfg["power_on"] == {"lamp": "on", "fan": "off"} and problems == []
        _write(path, json.dumps({"power_on": "on"}))
        cfg, problems = config.load(path)
        assert cfg["power_on"] == {} and problems == ["power_on must be an object; using the default"]
    finally:
        remove_atomically_written(path)
