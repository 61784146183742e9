"""Hardware-in-the-loop suite: the same tests against a real board or the virtual board.

    python -m pytest tests_device                                  # the virtual board (default)
    python -m pytest tests_device --board /dev/ttyUSB0 --board-id esp32_devkitc \\
        --config device_config.json                                # a real ESP32 on the bench

The session deploys the firmware with tools/deploy.py (only changed files), then the tests run
on-board driver checks through mpremote (the board's loopback jumpers, see README.md here),
HTTP, SSE and WebSocket tests against the board's address, the page in a browser, and a bounded
soak. The figures (free heap idle and under load, requests per second, latency) go to
results/<board id>.json. No test file depends on another having run: the fixtures they share
are here, and a test that stops the firmware leaves it to the ``firmware`` fixture to restart.
Checks that need real hardware are skipped with the reason on the virtual board; checks that
need the simulation's control channel (pressing the button without a finger) are skipped with
the reason on a real board.
"""

import datetime
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import deploy  # noqa: E402

from tools import chromium as chromium_browser  # noqa: E402
from tools.vboard.client import Client  # noqa: E402
from tools.vboard.supervisor import Supervisor, free_port  # noqa: E402

VIRTUAL_WIFI = ("devicelab", "devicelab-pass")  # a network in range of the simulated radio


def pytest_addoption(parser):
    g = parser.getgroup("device", "hardware-in-the-loop")
    g.addoption("--board", default=None,
                help="serial port or socket:// URL of a MicroPython board (default: start the virtual board)")
    g.addoption("--board-id", default=None, help="boards/<id>.json of that board (default: virtual)")
    g.addoption("--config", default=None,
                help="device config to deploy (Wi-Fi networks, auth); a real board needs Wi-Fi for the HTTP tests")
    g.addoption("--host", default=None, help="the board's IP address (default: read from its log after the reset)")
    g.addoption("--no-deploy", action="store_true", help="test what is on the board now")
    g.addoption("--deploy-form", choices=("auto", "romfs", "filesystem"), default="auto",
                help="tools/deploy.py's form: the modules in a ROMFS image (romfs), every file on the "
                     "filesystem (filesystem), or ROMFS when the board has a partition (auto, the default)")
    g.addoption("--soak", type=int, default=2000, help="requests in the soak test (default %(default)s)")
    g.addoption("--soak-clients", type=int, default=4, help="concurrent keep-alive clients in the soak (default %(default)s)")
    g.addoption("--results", default=str(ROOT / "results"), help="folder for <board id>.json")
    g.addoption("--vboard-bits", type=int, choices=(64, 32), default=32,
                help="the virtual board on the unix port's 32-bit build (default: the boards' word size, "
                     "their own heap figure) or its 64-bit build (lenient: the heap scaled by 2, and objects "
                     "twice as big, so byte-heavy data gets up to twice the room)")


class Device:
    """What the tests need to know about the board under test."""

    def __init__(self, port, board_id, virtual, supervisor=None):
        self.port = port
        self.board_id = board_id
        self.virtual = virtual
        self.supervisor = supervisor
        self.spec = json.loads((ROOT / "boards" / (board_id + ".json")).read_text())
        self.control = Client(supervisor.control_port) if supervisor else None
        self.http = None  # "http://host:port" once the firmware is up
        self.host = None
        self.firmware_running = False
        self.report = {"board": board_id, "virtual": virtual, "port": port}

    # --- the REPL side (firmware stopped while these run) --------------------------------
    def mpremote(self, *args, timeout=120):
        return subprocess.run([sys.executable, "-m", "mpremote", "connect", self.port, *args],
                              capture_output=True, text=True, timeout=timeout)

    def onboard(self, code, timeout=120):
        """Run code on the board (mpremote exec: Ctrl-C stops the firmware first); its output."""
        self.firmware_running = False
        r = self.mpremote("exec", code, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("on-board code failed:\n%s\n%s" % (r.stdout, r.stderr))
        return r.stdout

    def start_on_board(self, code):
        """Start long-running code on the board without waiting for it (mpremote exec --no-follow)."""
        self.firmware_running = False
        r = self.mpremote("exec", "--no-follow", code)
        assert r.returncode == 0, r.stderr

    # --- the firmware side ---------------------------------------------------------------
    def ensure_firmware(self, timeout=60):
        if self.firmware_running:
            return
        r = self.mpremote("reset")
        assert r.returncode == 0, "mpremote reset failed: %s" % r.stderr
        self.wait_http(timeout)

    def wait_http(self, timeout=60):
        if self.http is None:
            pytest.skip("the board's address is unknown: pass --host (and --config with its Wi-Fi)")
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                r = httpx.get(self.http + "/api/health", timeout=5)
                if r.status_code == 200:
                    self.firmware_running = True
                    return r.json()
                last = r.status_code
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.2)
        raise AssertionError("the firmware did not answer /api/health within %s s (last: %r)" % (timeout, last))

    def health(self):
        r = httpx.get(self.http + "/api/health", timeout=10)
        r.raise_for_status()
        return r.json()

    def loopbacks(self):
        return [tuple(p) for p in self.spec.get("loopbacks", [])]


def _virtual_device(tmp_root, board_id, bits=64):
    sup = Supervisor(tmp_root / "flash", board=board_id, log=_NullLog(),
                     wifi=["%s=%s" % VIRTUAL_WIFI], bits=bits).start()
    config = tmp_root / "device_config.json"
    http_port = free_port()
    config.write_text(json.dumps({
        "http_port": http_port, "dns_port": 0, "hostname": "vboard",
        "wifi": {"networks": [{"ssid": VIRTUAL_WIFI[0], "password": VIRTUAL_WIFI[1]}]},
    }))
    dev = Device(sup.url, board_id, True, sup)
    dev.report["heap_target"] = sup.heap
    dev.report["unix_port_bits"] = sup.bits
    dev.report["target"] = sup.target
    return dev, str(config)


class _NullLog:
    def write(self, b):
        return len(b)

    def flush(self):
        pass


@pytest.fixture(scope="session")
def device(request, tmp_path_factory):
    opt = request.config.getoption
    port = opt("--board")
    if port is None:
        dev, config = _virtual_device(tmp_path_factory.mktemp("vboard"), opt("--board-id") or "virtual",
                                      opt("--vboard-bits"))
    else:
        if not opt("--board-id"):
            pytest.exit("--board needs --board-id (one of: %s)"
                        % ", ".join(sorted(p.stem for p in (ROOT / "boards").glob("*.json"))), returncode=4)
        dev, config = Device(port, opt("--board-id"), False), opt("--config")
    dev.config = json.loads(Path(config).read_text()) if config and Path(config).exists() else {}
    try:
        if not opt("--no-deploy"):
            form = {"auto": None, "romfs": True, "filesystem": False}[opt("--deploy-form")]
            result = deploy.deploy(dev.port, dev.board_id, config, follow=40, until=r"^ready: ", romfs=form)
            dev.report["micropython"] = result["board"]["version"]
            dev.report["mpy_abi"] = "%d.%d" % result["board"]["abi"]
            dev.report["flash_free_bytes"] = result["board"]["free"]
            dev.report["deploy_form"] = result["form"]
            dev.report["deployed_files"] = (len(result["copied"]) + len(result["unchanged"])
                                            + len((result["romfs"] or {}).get("modules", ())))
            _find_address(dev, result.get("log", []), opt("--host"), config)
            if dev.http and result.get("ready"):
                dev.report["free_heap_after_boot"] = dev.wait_http()["free_heap"]
        else:
            _find_address(dev, [], opt("--host"), config)
        yield dev
    finally:
        _write_report(dev, Path(opt("--results")))
        if dev.supervisor is not None:
            dev.control.close()
            dev.supervisor.stop()


def _find_address(dev, log, host, config):
    """http://host:port of the firmware: 127.0.0.1 on the virtual board, else --host or the IP
    the firmware printed when it joined Wi-Fi; the port from the config (default 80)."""
    http_port = 80
    for line in log:
        m = re.search(r"http: listening on http://[^:/]+:(\d+)/", line)
        if m:
            http_port = int(m.group(1))
        m = re.search(r"connected to '.*' as ([0-9.]+)", line)
        if m and host is None:
            host = m.group(1)
    if config and Path(config).exists():
        http_port = json.loads(Path(config).read_text()).get("http_port", http_port)
    if dev.virtual:
        host = "127.0.0.1"
    if host:
        dev.host = host
        dev.http = "http://%s:%d" % (host, http_port)


def _write_report(dev, folder):
    folder.mkdir(parents=True, exist_ok=True)
    dev.report["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = folder / (dev.board_id + ".json")
    path.write_text(json.dumps(dev.report, indent=1, sort_keys=True) + "\n")
    print("\ndevice report: %s" % path)


@pytest.fixture
def firmware(device):
    """The firmware is running and answering HTTP (restarted after on-board checks)."""
    device.ensure_firmware()
    return device


@pytest.fixture
def virtual_only(device):
    if not device.virtual:
        pytest.skip("needs the virtual board's control channel (a real button needs a finger)")
    return device


@pytest.fixture
def hardware_only(device):
    if device.virtual:
        pytest.skip("needs real hardware: on the virtual board this is computed by the simulation, not measured")
    return device


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium (tools/chromium.py), with a Pixel 7's settings in ``.pixel7``; the
    test is skipped, with the reason, where Chromium or Playwright is missing."""
    reason = chromium_browser.missing()
    if reason:
        pytest.skip(reason)
    with chromium_browser.browser() as browser:
        yield browser
