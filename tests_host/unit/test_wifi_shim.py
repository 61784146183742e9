"""The simulated network module behaves like the ports where the firmware depends on it."""

import time

import network
from support import raises


def _settle(sta):
    for _ in range(100):  # bounded: connect_ms is 50 ms by default
        if sta.status() != network.STAT_CONNECTING:
            return sta.status()
        time.sleep_ms(5)
    return sta.status()


def test_station_walks_connecting_then_got_ip_or_a_failure_code():
    network.sim.reset()
    network.sim.add_network("home", "pw", rssi=-44)
    sta = network.WLAN(network.STA_IF)
    assert sta is network.WLAN(network.WLAN.IF_STA)  # one object per interface
    with raises(OSError, "active"):
        sta.connect("home", "pw")
    sta.active(True)
    assert sta.status() == network.STAT_IDLE and not sta.isconnected()
    sta.connect("home", "nope")
    assert sta.status() == network.STAT_CONNECTING
    assert _settle(sta) == network.STAT_WRONG_PASSWORD
    sta.connect("elsewhere", "pw")
    assert _settle(sta) == network.STAT_NO_AP_FOUND
    with raises(OSError):
        sta.status("rssi")
    sta.connect("home", "pw")
    assert _settle(sta) == network.STAT_GOT_IP and sta.isconnected()
    assert sta.status("rssi") == -44
    assert sta.ifconfig()[0] == network.sim.address == sta.ipconfig("addr4")[0]
    assert sta.config("ssid") == "home"
    with raises(ValueError):
        sta.config("key")  # the ports never read a key back
    network.sim.remove_network("home")
    assert not sta.isconnected() and sta.status() == network.STAT_NO_AP_FOUND
    sta.active(False)
    assert network.sim.connect_log == [("home", "nope"), ("elsewhere", "pw"), ("home", "pw")]


def test_hanging_network_stays_connecting_and_hostname_rules():
    network.sim.reset()
    network.sim.add_network("slow", "pw", hang=True)
    network.hostname("kitchen")
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    assert network.sim.dhcp_hostname == "kitchen"
    network.hostname("later")  # after activation: DHCP keeps the old name, as on a board
    assert network.sim.dhcp_hostname == "kitchen" and network.hostname() == "later"
    sta.connect("slow", "pw")
    time.sleep_ms(120)
    assert sta.status() == network.STAT_CONNECTING
    with raises(ValueError, "too long"):
        network.hostname("x" * 33)
    sta.active(False)


def test_access_point_and_scan():
    network.sim.reset()
    network.sim.add_network("open", None, rssi=-70)
    ap = network.WLAN(network.AP_IF)
    with raises(OSError):
        ap.connect("open")
    ap.config(ssid="dev-setup", key="12345678", security=network.AUTH_WPA2_PSK)
    ap.active(True)
    assert ap.isconnected() and ap.config("essid") == "dev-setup"
    assert ap.ifconfig()[0] == network.sim.address
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    ((ssid, bssid, channel, rssi, security, hidden),) = sta.scan()
    assert (ssid, rssi, security, hidden) == (b"open", -70, network.AUTH_OPEN, False)
    assert len(bssid) == 6
    network.sim.reset(flavor="rp2")
    assert network.STAT_GOT_IP == 3 and network.STAT_WRONG_PASSWORD == -3
    network.sim.reset()
    assert network.STAT_GOT_IP == 1010
