"""app.wifi against the simulated network module: join, retries, timeouts, AP fallback (both runtimes)."""

import network
from app import config, wifi
from support import run


def _cfg(networks=(), attempts=2, timeout_ms=300, ap_password=""):
    data = config.defaults()
    data["hostname"] = "kitchen-light"
    data["wifi"]["networks"] = [{"ssid": s, "password": p} for s, p in networks]
    data["wifi"]["attempts"] = attempts
    data["wifi"]["connect_timeout_ms"] = timeout_ms
    data["wifi"]["ap"]["password"] = ap_password
    return data


def _start(cfg):
    states = []
    logs = []
    w = wifi.WiFi(network, cfg, log=logs.append, on_state=states.append, backoff_ms=(20, 40))

    async def main():
        try:
            return await w.start()
        finally:
            w.stop()

    return run(main()), w, states, logs


def test_joins_the_configured_network_with_hostname_set_first():
    network.sim.reset()
    network.sim.add_network("home", "secret", rssi=-48)
    state, w, states, logs = _start(_cfg([("home", "secret")]))
    assert state == wifi.CONNECTED and states == [wifi.CONNECTING, wifi.CONNECTED]
    assert network.sim.dhcp_hostname == "kitchen-light"  # set before active(True)
    assert w.ssid == "home" and w.ip == network.sim.address
    assert w.rssi() == -48
    assert network.sim.connect_log == [("home", "secret")]
    assert not network.WLAN(network.AP_IF).active()
    assert "kitchen-light.local" in " ".join(logs)


def test_wrong_password_retries_with_backoff_then_opens_the_ap():
    network.sim.reset()
    network.sim.add_network("home", "secret")
    state, w, states, logs = _start(_cfg([("home", "nope"), ("absent", "x")], attempts=3))
    assert state == wifi.AP and states[-1] == wifi.AP
    assert len(network.sim.connect_log) == 6  # 3 rounds x 2 networks, then give up
    text = " ".join(logs)
    assert "wrong password" in text and "network not found" in text
    assert "retrying in 20 ms" in text and "retrying in 40 ms" in text
    ap = network.WLAN(network.AP_IF)
    assert ap.active() and ap.config("ssid") == "kitchen-light-setup"
    assert ap.config("security") == network.AUTH_OPEN
    assert w.rssi() is None
    assert network.WLAN(network.STA_IF).active()  # kept on so the setup page can scan


def test_a_hanging_network_times_out():
    network.sim.reset()
    network.sim.add_network("slow", "pw", hang=True)
    network.sim.add_network("good", "pw2")
    state, w, states, logs = _start(_cfg([("slow", "pw"), ("good", "pw2")], timeout_ms=150))
    assert state == wifi.CONNECTED and w.ssid == "good"
    assert "timeout after 150 ms" in " ".join(logs)


def test_network_that_appears_later_is_joined_on_a_retry():
    network.sim.reset()
    cfg = _cfg([("late", "pw")], attempts=3)
    w = wifi.WiFi(network, cfg, log=lambda m: None, backoff_ms=(50, 50))

    async def main():
        import asyncio

        task = asyncio.create_task(w.start())
        for _ in range(100):  # until the first attempt failed (bounded)
            await asyncio.sleep(0.01)
            if w.last_error:
                break
        network.sim.add_network("late", "pw")
        state = await task
        w.stop()
        return state

    assert run(main()) == wifi.CONNECTED
    assert len(network.sim.connect_log) == 2


def test_no_networks_goes_straight_to_a_protected_ap():
    network.sim.reset()
    state, w, states, logs = _start(_cfg([], ap_password="longenough"))
    assert state == wifi.AP and network.sim.connect_log == []
    ap = network.WLAN(network.AP_IF)
    assert ap.config("security") == network.AUTH_WPA2_PSK


def test_scan_lists_strongest_first_without_duplicates():
    network.sim.reset()
    network.sim.add_network("weak", None, rssi=-85)
    network.sim.add_network("strong", "pw", rssi=-40)
    w = wifi.WiFi(network, _cfg(), log=lambda m: None)
    found = w.scan()
    assert found == [{"ssid": "strong", "rssi": -40, "secure": True},
                     {"ssid": "weak", "rssi": -85, "secure": False}]


def test_rp2_status_codes_work_too():
    network.sim.reset(flavor="rp2")
    try:
        network.sim.add_network("home", "secret")
        state, w, states, logs = _start(_cfg([("home", "bad")], attempts=1))
        assert state == wifi.AP and "wrong password" in " ".join(logs)
        network.sim.reset(flavor="rp2")
        network.sim.add_network("home", "secret")
        state, w, states, logs = _start(_cfg([("home", "secret")]))
        assert state == wifi.CONNECTED
    finally:
        network.sim.reset()


def test_lost_link_rejoins_or_falls_back_to_the_ap():
    import asyncio

    network.sim.reset()
    network.sim.add_network("home", "secret")
    saved = wifi._WATCH_MS
    wifi._WATCH_MS = 30  # check the link every 30 ms instead of 5 s
    logs = []
    w = wifi.WiFi(network, _cfg([("home", "secret")], attempts=2, timeout_ms=100), log=logs.append,
                  backoff_ms=(20, 20))

    async def wait_for(state):
        for _ in range(300):  # bounded: 300 x 10 ms
            if w.state == state:
                return True
            await asyncio.sleep(0.01)
        return False

    async def main():
        try:
            assert await w.start() == wifi.CONNECTED
            network.sim.remove_network("home")  # the router reboots...
            assert await wait_for(wifi.CONNECTING)
            network.sim.add_network("home", "secret")  # ...and comes back
            assert await wait_for(wifi.CONNECTED)
            network.sim.remove_network("home")  # gone for good
            return await wait_for(wifi.AP)
        finally:
            w.stop()
            wifi._WATCH_MS = saved

    assert run(main())
    assert logs.count("wifi: link lost") == 2
    assert network.WLAN(network.AP_IF).active()


def test_setup_mode_rejoins_a_saved_network_once_it_is_back():
    # The router is slower than the board to come back after a power cut: the board opens
    # its setup access point, then finds the saved network and joins it by itself.
    network.sim.reset()
    cfg = _cfg([("home", "secret")], attempts=1, timeout_ms=100)
    states = []
    w = wifi.WiFi(network, cfg, log=lambda m: None, on_state=states.append, backoff_ms=(20, 20), rejoin_ms=50)

    async def main():
        import asyncio

        try:
            state = await w.start()
            assert state == wifi.AP and network.WLAN(network.AP_IF).active()
            await asyncio.sleep(0.2)  # several looks: nothing in range, no join tried
            assert w.state == wifi.AP and len(network.sim.connect_log) == 1
            network.sim.add_network("home", "secret")
            for _ in range(200):  # bounded: 2 s
                if w.state == wifi.CONNECTED:
                    break
                await asyncio.sleep(0.01)
            return w.state
        finally:
            w.stop()

    assert run(main()) == wifi.CONNECTED
    assert w.ssid == "home" and states[-1] == wifi.CONNECTED
    assert not network.WLAN(network.AP_IF).active()  # the setup access point is closed
    assert network.sim.connect_log == [("home", "secret"), ("home", "secret")]



def test_joining_a_network_from_setup_mode_ends_the_captive_portal():
    from app.firmware import Firmware

    class Portal:
        stopped = False

        def stop(self):
            self.stopped = True

    firmware = Firmware({}, [], "config.json")
    portal = firmware.dns = Portal()
    firmware.show_wifi_state(wifi.AP)
    assert firmware.dns is portal and not portal.stopped
    firmware.show_wifi_state(wifi.CONNECTED)
    assert portal.stopped and firmware.dns is None


def test_every_wifi_state_change_tells_the_open_pages_to_read_the_board_again():
    # A page whose event stream opened while the board was still joining showed "connecting"
    # until reloaded: the pages read the Wi-Fi state from /api/board, on a resync event.
    from app.firmware import Firmware

    class Live:
        def __init__(self):
            self.events = []

        def publish(self, event, payload):
            self.events.append((event, payload))

    firmware = Firmware({}, [], "config.json")
    firmware.show_wifi_state(wifi.CONNECTING)  # before the pages' hub exists: nothing to tell
    firmware.live = Live()
    firmware.show_wifi_state(wifi.CONNECTING)
    firmware.show_wifi_state(wifi.CONNECTED)
    assert firmware.live.events == [("resync", {}), ("resync", {})]
