"""The device configuration: one JSON file in flash, written atomically.

``settings, problems = load(path)`` never raises: a missing or corrupt file (or a wrong-typed
key) gives the defaults for what is wrong, and each reason is a line in ``problems`` for the
log and the page. ``merged(loaded, report, strict=True)`` is the same merge for a
configuration uploaded as a whole (app.settings), which refuses instead. ``settings`` is
plain data (dicts, lists, strings, numbers), so nothing that runs later holds on to this
module: it is needed at boot and when a setting is saved, and leaves RAM in between
(app.runner). ``save(path, data)`` writes it atomically
(app.storage), so a power cut leaves either the old file or the new one, never half of one.
"""

import json

from app.storage import write_json as save  # noqa: F401 (this module's save)

FILENAME = "config.json"
MAX_NETWORKS = 8  # bounded: each try costs up to connect_timeout_ms at boot


def defaults():
    # A function, not a module-level dict, so no caller can mutate the shared defaults.
    return {
        "wifi": {
            "networks": [],  # [{"ssid": ..., "password": ...}], tried in order
            "connect_timeout_ms": 15000,
            "attempts": 3,  # rounds over all networks before falling back to the AP
            "ap": {"ssid": "", "password": ""},  # ssid "" -> "<hostname>-setup", open network
        },
        "hostname": "microhttp",
        "auth": {"password": ""},  # non-empty turns auth on for the page and the API
        "board": "",  # board id ("" -> detect from the port)
        "http_port": 80,
        "bind": "0.0.0.0",
        "dns_port": 53,  # captive-portal DNS in AP mode (0 disables it)
        "status_led": "",  # device name that shows the Wi-Fi state ("" -> the first LED)
        "power_on": {},  # output device name -> "off" | "on" | "restore" (default; app.power_on)
        "bindings": [],  # button event -> device command, with no network (app.bindings)
        "labels": {},  # device name -> the name the page shows (app.settings)
    }


def _merge(base, loaded, where, report, strict):
    """Take each known key from ``loaded`` when it has the default's type;
    ``report(field, message)`` each one that has not (and, ``strict``, each unknown key)."""
    for key in base:
        if key not in loaded:
            continue
        value = loaded[key]
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                report(where + key, "must be an object")
            elif default:
                _merge(default, value, where + key + ".", report, strict)
            else:
                base[key] = value  # a map without fixed keys (power_on): its user checks each entry
        elif type(value) is type(default) or (isinstance(default, list) and isinstance(value, list)):
            base[key] = value
        else:
            report(where + key, "has the wrong type")
    if strict:
        for key in loaded:
            if key not in base:
                report(where + str(key), "is not a setting")


def merged(loaded, report, strict=True):
    """The defaults with what ``loaded`` (a dict) sets; ``report(field, message)`` is called
    for each key that cannot be taken (see _merge) and may raise to stop at the first."""
    data = defaults()
    _merge(data, loaded, "", report, strict)
    return data


def _check_networks(data, problems):
    good = []
    for net in data["wifi"]["networks"]:
        if isinstance(net, dict) and isinstance(net.get("ssid"), str) and net["ssid"] \
                and isinstance(net.get("password", ""), str):
            good.append({"ssid": net["ssid"], "password": net.get("password", "")})
        else:
            problems.append("wifi.networks has an invalid entry; skipped it")
    data["wifi"]["networks"] = good
    port = data["http_port"]
    if not 0 < port < 65536:
        problems.append("http_port out of range; using 80")
        data["http_port"] = 80


def load(path=FILENAME):
    """Return ``(settings, problems)``; never raises (defaults plus ``problems`` instead)."""
    data = defaults()
    problems = []
    try:
        with open(path) as f:
            loaded = json.load(f)
    except OSError:
        problems.append("%s missing; using defaults" % path)
        return data, problems
    except (ValueError, MemoryError) as exc:  # MicroPython's json raises ValueError too
        problems.append("%s is corrupt (%s); using defaults" % (path, exc))
        return data, problems
    if not isinstance(loaded, dict):
        problems.append("%s is not a JSON object; using defaults" % path)
        return data, problems
    data = merged(loaded, lambda field, message: problems.append("%s %s; using the default" % (field, message)),
                  strict=False)
    _check_networks(data, problems)
    return data, problems


def add_network(settings, ssid, password, path=FILENAME):
    """Put ``ssid`` first in ``settings``' network list (replacing an older entry) and save."""
    nets = [n for n in settings["wifi"]["networks"] if n["ssid"] != ssid]
    nets.insert(0, {"ssid": ssid, "password": password})
    del nets[MAX_NETWORKS:]
    settings["wifi"]["networks"] = nets
    save(path, settings)
