"""The settings a maker changes from the page: the devices' names, the hostname, the password
and the Wi-Fi networks; the whole configuration as a backup, put back, or reset to the factory
defaults (docs/device-api.md, "Settings"). Their routes (``make_app``) are mounted at
/api/settings by app.api. This module is imported by each request there and leaves RAM after
it: settings change seldom, and a board that loads its code from .mpy files has no room to keep
it loaded in between.

Every change is checked whole before anything is written: a bad field raises a CommandError
naming it, as the device API names one, and nothing changes. Then config.json is written
atomically (app.storage). New names apply at once; the hostname, the password and the networks
at the next start, so saving one of them restarts the board.

The password is stored only as its salted hash (app.access) and never leaves the board: the
settings report whether one is set, and the backup leaves it out (a restore keeps the board's).
The backup does hold the Wi-Fi passwords, as a restore onto a new board needs them.
"""

import json
import os

from drivers.device import CommandError
from microhttp import App, Response

from app import storage
from app.catalog import for_firmware
from app.firmware import log, release
from app.jsonapi import error, json_object, refused

MAX_LABEL = 32
MAX_CONFIG_BYTES = 4096  # an uploaded configuration (16 bindings and 8 networks fit)
_SAVED = ("hostname", "labels", "networks", "password")
_RESTART = ("hostname", "networks", "password")  # read at start-up only


def current(firmware):
    """What GET /api/settings reports: no password, no Wi-Fi password."""
    settings = firmware.settings
    return {
        "hostname": settings["hostname"],
        "labels": {device.name: device.label for device in firmware.device_list},
        "networks": [{"ssid": network["ssid"]} for network in settings["wifi"]["networks"]],
        "password_set": bool(settings["auth"]["password"]),
    }


def check_hostname(value, field="hostname"):
    """A host name as DHCP and mDNS carry it (RFC 1123 section 2.1): 1 to 32 letters, digits
    and hyphens, neither first nor last a hyphen."""
    if not isinstance(value, str) or not 0 < len(value) <= 32:
        raise CommandError(field, "must be 1 to 32 characters")
    for char in value:
        if not (char.isalpha() or char.isdigit() or char == "-") or ord(char) > 127:
            raise CommandError(field, "may hold only letters a-z, digits and hyphens")
    if value[0] == "-" or value[-1] == "-":
        raise CommandError(field, "may not begin or end with a hyphen")
    return value


def check_labels(value, devices, field="labels"):
    """``{device name: the name the page shows}``, each 1 to MAX_LABEL characters."""
    if not isinstance(value, dict):
        raise CommandError(field, "must be an object of device name to name")
    labels = {}
    for name in value:
        where = field + "." + str(name)
        if name not in devices:
            raise CommandError(where, "the board has no device of that name")
        label = value[name]
        if not isinstance(label, str) or not 0 < len(label.strip()) <= MAX_LABEL:
            raise CommandError(where, "must be 1 to %d characters" % MAX_LABEL)
        for char in label:
            if ord(char) < 32:
                raise CommandError(where, "may not hold control characters")
        labels[name] = label.strip()
    return labels


def _check_wifi_password(value, field):
    # A WPA2 passphrase is 8 to 63 characters (IEEE 802.11i); empty for an open network.
    if not isinstance(value, str) or len(value) > 63 or 0 < len(value) < 8:
        raise CommandError(field, "must be empty (an open network) or 8 to 63 characters")
    return value


def check_networks(value, stored, field="networks"):
    """The networks in the order to try them. An entry without a password keeps the one saved
    for that network, so the page can reorder and remove networks it never saw the passwords
    of; a new network needs one (empty for an open network)."""
    from app import config  # the config file's code: loaded when a setting is checked or saved

    if not isinstance(value, list):
        raise CommandError(field, "must be a list")
    if len(value) > config.MAX_NETWORKS:
        raise CommandError(field, "at most %d networks" % config.MAX_NETWORKS)
    saved = {network["ssid"]: network["password"] for network in stored}
    networks = []  # type: list
    for index, entry in enumerate(value):
        where = "%s[%d]" % (field, index)
        if not isinstance(entry, dict):
            raise CommandError(where, "must be an object with ssid and password")
        for key in entry:
            if key not in ("ssid", "password"):
                raise CommandError(where + "." + str(key), "is not a network setting")
        ssid = entry.get("ssid")
        if not isinstance(ssid, str) or not 0 < len(ssid) <= 32:
            raise CommandError(where + ".ssid", "must be 1 to 32 characters")
        if ssid in [network["ssid"] for network in networks]:
            raise CommandError(where + ".ssid", "is listed twice")
        if "password" in entry:
            password = _check_wifi_password(entry["password"], where + ".password")
        elif ssid in saved:
            password = saved[ssid]
        else:
            raise CommandError(where + ".password", "is required for a network not saved yet")
        networks.append({"ssid": ssid, "password": password})
    return networks


def check_new_password(value):
    """The page's password: 8 to 64 characters, or empty to turn the password off."""
    if not isinstance(value, str) or len(value) > 64 or 0 < len(value) < 8:
        raise CommandError("password", "must be 8 to 64 characters, or empty to turn the password off")
    return value


def _hashed(password):
    if not password:
        return ""
    from app.access import hash_password  # the login code: loaded when a password is set

    return hash_password(password)


def change(firmware, body, password_ok):
    """Apply PUT /api/settings' ``body``: any of hostname, labels, networks, password (with
    current_password while one is set). ``password_ok(candidate)`` checks the current password.
    Returns ``(what was saved, whether the board restarts)``; raises CommandError, changing
    nothing."""
    for key in body:
        if key not in _SAVED and key != "current_password":
            raise CommandError(str(key), "is not a setting")
    settings = firmware.settings
    new = json.loads(json.dumps(settings))  # a deep copy: the running settings stay as they are
    if "hostname" in body:
        new["hostname"] = check_hostname(body["hostname"])
    if "labels" in body:
        labels = dict(settings["labels"])
        labels.update(check_labels(body["labels"], firmware.devices))
        new["labels"] = labels
    if "networks" in body:
        new["wifi"]["networks"] = check_networks(body["networks"], settings["wifi"]["networks"])
    if "password" in body:
        password = check_new_password(body["password"])
        if settings["auth"]["password"] and not password_ok(body.get("current_password")):
            raise CommandError("current_password", "is not the password set now")
        new["auth"]["password"] = _hashed(password)
    elif "current_password" in body:
        raise CommandError("current_password", "is only needed to change the password")
    _save(firmware, new)
    if "labels" in body:
        for name, label in new["labels"].items():
            if name in firmware.devices:
                firmware.devices[name].label = label
    return [key for key in _SAVED if key in body], any(key in body for key in _RESTART)


def _save(firmware, new):
    from app import config

    config.save(firmware.config_path, new)  # atomic: the old file or the new one
    firmware.settings = new


def backup(firmware):
    """The configuration to download: config.json as saved, without the password's hash."""
    data = json.loads(json.dumps(firmware.settings))
    del data["auth"]
    return data


def _refuse(field, message):
    raise CommandError(field, message)


def check_config(data, firmware):
    """An uploaded configuration, checked as the board would use it, every entry: the settings
    to save, or a CommandError naming the first bad field. Without ``auth`` it keeps the
    board's password."""
    if not isinstance(data, dict):
        raise CommandError("config", "must be a JSON object")
    from app import config

    new = config.merged(data, _refuse)
    check_hostname(new["hostname"])
    new["wifi"]["networks"] = check_networks(new["wifi"]["networks"], [], "wifi.networks")
    _check_wifi_password(new["wifi"]["ap"]["password"], "wifi.ap.password")
    if not 0 < new["http_port"] < 65536:
        raise CommandError("http_port", "must be 1 to 65535")
    if not 0 <= new["dns_port"] < 65536:
        raise CommandError("dns_port", "must be 0 (off) to 65535")
    devices = firmware.devices
    new["labels"] = check_labels(new["labels"], devices)
    if new["status_led"] and new["status_led"] not in devices:
        raise CommandError("status_led", "the board has no device of that name")
    from app.power_on import MODES

    for name in new["power_on"]:
        device = devices.get(name)
        if device is None or device.restore_command() is None:  # none, or an input
            raise CommandError("power_on." + str(name), "the board has no output of that name")
        if new["power_on"][name] not in MODES:
            raise CommandError("power_on." + name, "must be off, on or restore")
    if new["bindings"]:
        from app.bindings import check

        new["bindings"], errors = check(new["bindings"], devices)
        if errors:
            raise errors[0]
    if "auth" in data:
        password = new["auth"]["password"]
        from microhttp.passwords import is_secret_hash

        new["auth"]["password"] = password if is_secret_hash(password) else _hashed(password)
    else:
        new["auth"] = dict(firmware.settings["auth"])
    return new


def restore(firmware, data):
    """Save an uploaded configuration (checked whole first); the board restarts with it."""
    _save(firmware, check_config(data, firmware))


def factory_reset(firmware):
    """Forget the configuration and the outputs' saved state; the board restarts as new, in
    setup mode."""
    if firmware.power_on is not None:
        firmware.power_on.stop()  # no write of the outputs' state after the files are gone
        firmware.power_on = None
    from app.power_on import FILENAME

    for path in (firmware.config_path, storage.beside(firmware.config_path, FILENAME)):
        try:
            os.remove(path)
        except OSError:
            pass  # not there: nothing to forget


def make_app(firmware):
    """The settings' routes, for app.api to mount at /api/settings."""
    app = App()

    @app.after_request
    def leave_ram(request, response):
        release(__name__)  # the next settings request imports it again

    @app.get("/")
    def get_settings(request):
        return current(firmware)

    @app.put("/")
    async def put_settings(request):
        body = await json_object(request)

        def password_ok(candidate):
            return firmware.access is not None and firmware.access.verify(request, candidate)

        try:
            saved, restart = change(firmware, body, password_ok)
        except CommandError as exc:
            return refused(exc)
        if "labels" in saved:
            firmware.forget_problems("labels")  # what boot said of the old ones
            firmware.catalog = for_firmware(firmware)
            firmware.live.publish("resync", {})  # every open page reads the new names
        log("settings: %s saved" % ", ".join(saved))
        if restart:
            firmware.schedule_reboot()
        return {"saved": saved, "rebooting": restart}

    @app.post("/restart")
    def restart(request):
        log("settings: restart")
        firmware.schedule_reboot()
        return {"rebooting": True}, 202

    @app.get("/config")
    def download(request):
        response = Response.json(backup(firmware))
        # RFC 6266: saved as a file named after the board, not shown.
        response.headers["content-disposition"] = 'attachment; filename="%s-config.json"' % (
            firmware.settings["hostname"])
        return response

    @app.put("/config")
    async def upload(request):
        body = await json_object(request, MAX_CONFIG_BYTES)
        try:
            restore(firmware, body)
        except CommandError as exc:
            return refused(exc)
        log("settings: configuration uploaded")
        firmware.schedule_reboot()
        return {"saved": True, "rebooting": True}, 202

    @app.post("/factory-reset")
    async def reset(request):
        body = await json_object(request)
        if body.get("confirm") is not True:
            return error(400, 'send {"confirm": true} to forget every setting', "confirm")
        factory_reset(firmware)
        log("settings: factory reset")
        firmware.schedule_reboot()
        return {"reset": True, "rebooting": True}, 202

    return app
