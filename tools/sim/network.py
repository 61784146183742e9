"""Simulated ``network`` module (WLAN station and access point). NEVER UPLOAD THIS TO A BOARD.

Runs on CPython and on the MicroPython unix port. The radio environment is ``network.sim``:

    network.sim.add_network("home", "secret", rssi=-55)   # a WPA2 network in range
    network.sim.add_network("cafe", None, rssi=-80)       # an open network
    network.sim.add_network("slow", "pw", hang=True)      # associates forever (a timeout)
    network.sim.reset()                                   # back to an empty world

``connect()`` returns at once and the status walks STAT_CONNECTING -> STAT_GOT_IP (or a
failure code) after ``sim.connect_ms`` milliseconds, as on the real ports. Status codes are
the ESP32 port's numbers (ports/esp32/network_wlan.c); ``sim.reset(flavor="rp2")`` switches
to the CYW43 numbers of the Pico W. A simulated device lives at ``sim.address`` (127.0.0.1 by
default) so that anything it advertises is reachable from the test machine.
"""

import time

STA_IF = 0
AP_IF = 1

# Security modes as numbered by both ports' scan() results.
AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4

PM_NONE = 0
PM_PERFORMANCE = 1
PM_POWERSAVE = 2

_FLAVORS = {
    # ports/esp32/network_wlan.c
    "esp32": {"IDLE": 1000, "CONNECTING": 1001, "GOT_IP": 1010, "NO_AP_FOUND": 201,
              "WRONG_PASSWORD": 202, "BEACON_TIMEOUT": 200, "ASSOC_FAIL": 203,
              "HANDSHAKE_TIMEOUT": 204},
    # lib/cyw43-driver/src/cyw43.h (CYW43_LINK_*)
    "rp2": {"IDLE": 0, "CONNECTING": 1, "GOT_IP": 3, "NO_AP_FOUND": -2,
            "WRONG_PASSWORD": -3, "CONNECT_FAIL": -1},
}

_module = globals()


def _install_status_constants(flavor):
    for name, value in _FLAVORS[flavor].items():
        _module["STAT_" + name] = value


class _Sim:
    """The world the simulated radio sees, and a log of what the firmware did with it."""

    def __init__(self):
        self.reset()

    def reset(self, flavor="esp32"):
        if flavor not in _FLAVORS:
            raise ValueError("flavor must be one of %s" % ", ".join(_FLAVORS))
        _install_status_constants(flavor)
        self.flavor = flavor
        self.networks = {}
        self.connect_ms = 50
        self.address = "127.0.0.1"
        self.hostname = "mpy-esp32" if flavor == "esp32" else "PicoW"
        self.dhcp_hostname = None  # the name the STA sent in DHCP (as of when it came up)
        self.connect_log = []  # (ssid, key) for every connect() call, in order
        self.events = []  # ("sta"|"ap", "active"|"inactive"|"config", detail)
        for iface in _interfaces:
            iface._reset()

    def add_network(self, ssid, password=None, rssi=-60, channel=6, hang=False, bssid=None):
        """Put a network in range; ``password=None`` makes it open; ``hang`` never finishes."""
        if bssid is None:
            n = len(self.networks) + 1
            bssid = bytes((0x02, 0, 0, 0, n >> 8 & 0xFF, n & 0xFF))
        self.networks[ssid] = {"password": password, "rssi": rssi, "channel": channel,
                               "hang": hang, "bssid": bssid}

    def remove_network(self, ssid):
        """Take a network out of range; a station joined to it drops its link."""
        self.networks.pop(ssid, None)
        for iface in _interfaces:
            if iface._if == STA_IF and iface._ssid == ssid:
                iface._set_status(_module["STAT_NO_AP_FOUND"])


_interfaces = []


def hostname(name=None):
    """Get or set the hostname used for DHCP and mDNS (at most 32 characters, as on the ports)."""
    if name is None:
        return sim.hostname
    if not isinstance(name, str):
        raise TypeError("hostname must be a str")
    if len(name) > 32:
        raise ValueError("hostname too long")
    sim.hostname = name
    return None


def country(code=None):
    if code is None:
        return "XX"
    return None


class WLAN:
    IF_STA = STA_IF
    IF_AP = AP_IF
    PM_NONE = PM_NONE
    PM_PERFORMANCE = PM_PERFORMANCE
    PM_POWERSAVE = PM_POWERSAVE

    def __new__(cls, interface_id=STA_IF):
        # The ports return one object per interface.
        for iface in _interfaces:
            if iface._if == interface_id:
                return iface
        if interface_id not in (STA_IF, AP_IF):
            raise ValueError("invalid WLAN interface identifier")
        self = object.__new__(cls)
        self._if = interface_id
        self._reset()
        _interfaces.append(self)
        return self

    def __init__(self, interface_id=STA_IF):
        pass

    def _reset(self):
        self._active = False
        self._ssid = None
        self._status = _module["STAT_IDLE"]
        self._due = None  # ticks_ms when the pending connect resolves
        self._pending = None  # status to take at _due
        self._config = {"ssid": "MPY-AP" if self._if == AP_IF else "", "key": "", "channel": 1,
                        "security": AUTH_WPA2_PSK if self._if == AP_IF else AUTH_OPEN,
                        "hidden": False, "reconnects": -1, "txpower": 20, "pm": PM_PERFORMANCE,
                        "mac": bytes((0x02, 0xAB, 0xCD, 0, 0, 1 + self._if))}
        self._ip = None

    def _name(self):
        return "ap" if self._if == AP_IF else "sta"

    def _set_status(self, status):
        self._status = status
        self._due = None
        self._pending = None
        if status != _module["STAT_GOT_IP"]:
            self._ip = None

    def _tick(self):
        if self._due is not None and time.ticks_diff(time.ticks_ms(), self._due) >= 0:
            pending = self._pending
            self._set_status(pending)
            if pending == _module["STAT_GOT_IP"]:
                self._ip = sim.address

    # -- the MicroPython network.WLAN API ------------------------------------------------

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        is_active = bool(is_active)
        if is_active and not self._active and self._if == STA_IF:
            sim.dhcp_hostname = sim.hostname  # DHCP uses the name set before activation
        if self._active != is_active:
            sim.events.append((self._name(), "active" if is_active else "inactive", None))
        self._active = is_active
        if not is_active:
            self._ssid = None
            self._set_status(_module["STAT_IDLE"])
        elif self._if == AP_IF:
            self._ip = sim.address
        return None

    def connect(self, ssid=None, key=None, *, bssid=None):
        if self._if != STA_IF:
            raise OSError("AP can't connect")
        if not self._active:
            raise OSError("STA must be active")  # esp32: "Wifi Not Started"
        if ssid is None:
            raise OSError("no SSID")
        sim.connect_log.append((ssid, key))
        self._ssid = ssid
        net = sim.networks.get(ssid)
        if net is None:
            outcome = _module["STAT_NO_AP_FOUND"]
        elif net["password"] is not None and key != net["password"]:
            outcome = _module["STAT_WRONG_PASSWORD"]
        else:
            outcome = _module["STAT_GOT_IP"]
        self._status = _module["STAT_CONNECTING"]
        self._ip = None
        self._pending = outcome
        self._due = None if net is not None and net["hang"] else time.ticks_add(time.ticks_ms(), sim.connect_ms)
        return None

    def disconnect(self):
        self._ssid = None
        self._set_status(_module["STAT_IDLE"])

    def isconnected(self):
        self._tick()
        if self._if == AP_IF:
            return self._active
        return self._status == _module["STAT_GOT_IP"]

    def status(self, param=None):
        self._tick()
        if param is None:
            return self._status
        if param == "rssi":
            if self._status != _module["STAT_GOT_IP"]:
                raise OSError("STA not connected")
            return sim.networks[self._ssid]["rssi"]
        if param == "stations":
            return []
        raise ValueError("unknown status param")

    def scan(self):
        if self._if != STA_IF or not self._active:
            raise OSError("STA must be active")
        out = []
        for ssid, net in sim.networks.items():
            security = AUTH_OPEN if net["password"] is None else AUTH_WPA2_PSK
            out.append((ssid.encode(), net["bssid"], net["channel"], net["rssi"], security, False))
        return out

    def config(self, *args, **kwargs):
        if args and kwargs:
            raise TypeError("either get or set, not both")
        if args:
            if len(args) != 1:
                raise TypeError("one parameter at a time")
            key = {"essid": "ssid", "password": "key", "authmode": "security"}.get(args[0], args[0])
            if key == "hostname":
                return sim.hostname
            if key == "key":
                raise ValueError("unknown config param")  # the ports never read a key back
            if key not in self._config:
                raise ValueError("unknown config param")
            if key == "ssid" and self._if == STA_IF:
                return self._ssid or ""
            return self._config[key]
        for key, value in kwargs.items():
            key = {"essid": "ssid", "password": "key", "authmode": "security"}.get(key, key)
            if key == "hostname":
                hostname(value)
                continue
            if key not in self._config:
                raise ValueError("unknown config param")
            self._config[key] = value
            sim.events.append((self._name(), "config", key))
        return None

    def ifconfig(self, config=None):
        if config is not None:
            self._ip = config[0]
            return None
        self._tick()
        ip = self._ip or "0.0.0.0"
        if ip == "0.0.0.0":
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        return (ip, "255.255.255.0", ip, ip)

    def ipconfig(self, *args, **kwargs):
        if kwargs:
            return None
        if args == ("addr4",):
            self._tick()
            return (self._ip or "0.0.0.0", "255.255.255.0" if self._ip else "0.0.0.0")
        raise ValueError("unknown ipconfig param")


sim = _Sim()
