"""Wi-Fi bring-up: station with the configured networks (retry with backoff), else a setup AP.

    wifi = WiFi(network, cfg, on_state=show_on_led)
    await wifi.start()        # -> "connected" or "ap"
    wifi.state, wifi.ip, wifi.ssid, wifi.rssi(), wifi.scan()

The hostname is set before the station interface is activated: the ports send it in DHCP and
advertise it over mDNS only from activation on (docs/library/network.rst).
"""

import asyncio
import time

from microhttp.compat import sleep_ms

# States, also shown on the status LED and the page.
OFF = "off"
CONNECTING = "connecting"
CONNECTED = "connected"
AP = "ap"

_POLL_MS = 100
_WATCH_MS = 5000  # how often a connected station checks its link
_REJOIN_MS = 60000  # how often the setup access point looks for the saved networks
_MAX_SCAN = 20  # networks listed on the setup page (each costs a dict on the heap)


class WiFi:
    def __init__(self, network, cfg, log=print, on_state=None, backoff_ms=(500, 8000), rejoin_ms=_REJOIN_MS):
        self.net = network
        self.cfg = cfg
        self.log = log
        self.on_state = on_state
        self.backoff_ms = backoff_ms
        self.rejoin_ms = rejoin_ms
        self.state = OFF
        self.ip = None
        self.ssid = None
        self.last_error = None
        self.sta = network.WLAN(network.STA_IF)  # the port's singleton; not activated yet
        self.ap = None
        self._watch = None
        # Failure codes differ per port (esp32 vs CYW43); take what this port defines.
        self._fail = {}
        for name, why in (("STAT_WRONG_PASSWORD", "wrong password"), ("STAT_NO_AP_FOUND", "network not found"),
                          ("STAT_CONNECT_FAIL", "connection failed"), ("STAT_ASSOC_FAIL", "association failed"),
                          ("STAT_HANDSHAKE_TIMEOUT", "handshake timeout"), ("STAT_BEACON_TIMEOUT", "beacon timeout")):
            code = getattr(network, name, None)
            if code is not None:
                self._fail[code] = why
        self._got_ip = getattr(network, "STAT_GOT_IP", None)

    def _set(self, state):
        self.state = state
        if self.on_state is not None:
            try:
                self.on_state(state)
            except Exception as exc:  # a broken LED must not stop the network
                self.log("wifi: status indicator failed: %s" % exc)

    def _hostname(self):
        return self.cfg["hostname"][:32] or "microhttp"

    async def start(self):
        """Join a configured network, or open the setup access point. Returns the state."""
        try:
            self.net.hostname(self._hostname())  # before active(True): DHCP and mDNS use it
        except Exception as exc:
            self.log("wifi: cannot set hostname: %s" % exc)
        self.sta.active(True)
        if self.cfg["wifi"]["networks"] and await self.connect_station():
            self._watch = asyncio.create_task(self._watch_link())
            return self.state
        self.fall_back_to_ap()
        return self.state

    def fall_back_to_ap(self):
        """Open the setup access point and, with networks saved, keep looking for them."""
        self.start_ap()
        if self.cfg["wifi"]["networks"]:
            self._watch = asyncio.create_task(self._rejoin())

    async def connect_station(self):
        """Try every configured network, ``attempts`` rounds with doubling pauses between."""
        wcfg = self.cfg["wifi"]
        self._set(CONNECTING)
        delay, cap = self.backoff_ms
        rounds = max(1, wcfg["attempts"])
        for n in range(rounds):
            for net in wcfg["networks"]:
                if await self._try(net["ssid"], net["password"], wcfg["connect_timeout_ms"]):
                    return True
            if n + 1 < rounds:
                self.log("wifi: no network joined; retrying in %d ms" % delay)
                await sleep_ms(delay)
                delay = min(delay * 2, cap)
        return False

    async def _try(self, ssid, password, timeout_ms):
        sta = self.sta
        self.log("wifi: joining %r" % ssid)
        try:
            sta.connect(ssid, password or None)
        except OSError as exc:
            self.last_error = "%s: %s" % (ssid, exc)
            self.log("wifi: " + self.last_error)
            return False
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        while True:
            status = sta.status()
            if status == self._got_ip or sta.isconnected():
                self.ssid = ssid
                self.ip = self._address(sta)
                self.last_error = None
                self._set(CONNECTED)
                self.log("wifi: connected to %r as %s (http://%s.local/)" % (ssid, self.ip, self._hostname()))
                return True
            why = self._fail.get(status)
            if why is None and time.ticks_diff(time.ticks_ms(), deadline) >= 0:
                why = "timeout after %d ms" % timeout_ms
            if why is not None:
                self.last_error = "%s: %s" % (ssid, why)
                self.log("wifi: " + self.last_error)
                sta.disconnect()  # stop the port's own endless reconnects before the next try
                return False
            await sleep_ms(_POLL_MS)

    def _address(self, iface):
        try:
            return iface.ipconfig("addr4")[0]
        except (AttributeError, ValueError, OSError):
            return iface.ifconfig()[0]  # ports before 1.24

    def ap_ssid(self):
        return self.cfg["wifi"]["ap"]["ssid"] or (self._hostname() + "-setup")

    def start_ap(self):
        """Open the setup access point (STA stays active so the setup page can scan)."""
        apcfg = self.cfg["wifi"]["ap"]
        ap = self.net.WLAN(self.net.AP_IF)
        ssid = self.ap_ssid()
        password = apcfg["password"]
        if password and len(password) >= 8:  # WPA2 needs 8..63 characters
            security = getattr(self.net.WLAN, "SEC_WPA2", getattr(self.net, "AUTH_WPA2_PSK", 3))
            ap.config(ssid=ssid, key=password, security=security)
        else:
            ap.config(ssid=ssid, security=getattr(self.net.WLAN, "SEC_OPEN", getattr(self.net, "AUTH_OPEN", 0)))
        ap.active(True)
        self.ap = ap
        self.ssid = ssid
        self.ip = self._address(ap)
        self._set(AP)
        self.log("wifi: setup access point %r at http://%s/" % (ssid, self.ip))

    async def _watch_link(self):
        # The ports reconnect by themselves for a while; if the link stays down, start over.
        while self.state == CONNECTED:
            await sleep_ms(_WATCH_MS)
            if not self.sta.isconnected():
                self.log("wifi: link lost")
                if not await self.connect_station():
                    self.fall_back_to_ap()
                    return

    async def _rejoin(self):
        # A saved network that was away at start-up (a router slower than the board to come
        # back after a power cut) must not leave the board in setup mode until someone
        # restarts it. A scan shows whether one is in range; only then is it joined, so a
        # phone on the setup access point is not disturbed by joins bound to fail.
        while self.state == AP:
            await sleep_ms(self.rejoin_ms)
            in_range = [found["ssid"] for found in self.scan()]
            for saved in self.cfg["wifi"]["networks"]:
                if saved["ssid"] in in_range and self.state == AP and await self._try(
                        saved["ssid"], saved["password"], self.cfg["wifi"]["connect_timeout_ms"]):
                    self.stop_ap()
                    self._watch = asyncio.create_task(self._watch_link())
                    return

    def stop_ap(self):
        if self.ap is not None:
            self.ap.active(False)
            self.ap = None

    def rssi(self):
        """Signal strength in dBm while joined as a station, else None."""
        if self.state != CONNECTED:
            return None
        try:
            return self.sta.status("rssi")
        except Exception:
            return None

    def scan(self):
        """Networks in range, strongest first: [{"ssid", "rssi", "secure"}], deduplicated."""
        if not self.sta.active():
            self.sta.active(True)
        best = {}  # type: dict
        for ssid, _bssid, _channel, rssi, security, hidden in self.sta.scan():
            try:
                name = ssid.decode()
            except Exception:
                continue
            if not name or hidden:
                continue
            if name not in best or rssi > best[name]["rssi"]:
                best[name] = {"ssid": name, "rssi": rssi, "secure": security != 0}
        out = sorted(best.values(), key=lambda n: -n["rssi"])
        return out[:_MAX_SCAN]

    def info(self):
        return {"state": self.state, "ssid": self.ssid, "ip": self.ip, "rssi": self.rssi(),
                "hostname": self._hostname(), "error": self.last_error}

    def stop(self):
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
