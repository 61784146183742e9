#!/usr/bin/env python3
"""Firmware memory benchmark: what the whole firmware leaves free for the user's own code.

    python tools/bench_firmware.py                           # every target, every deploy form
    python tools/bench_firmware.py --target esp32 --soak 500 --json results/bench_firmware.json

It boots the real deployed image (tools/deploy.py) on the virtual board's 32-bit build, the
boards' word size, with each target's own heap (tools/vboard/supervisor.py, HEAP_BYTES), and
reads the heap through the board's control channel (a collection first, so garbage does not
count as used):

- free after boot: as soon as the firmware prints "ready:" (Wi-Fi joined, HTTP listening);
- two pages loaded: two phones have just loaded the control page (the page and /api/board,
  over one kept-alive connection, with a phone browser's
  request heads) and hold its event stream open, as the page does;
- idle, two pages live: the same once the board has closed the pages' idle connections (its
  idle timeout), with the event streams open: what a board with two phones on its page has
  free for the user's code;
- largest free block at that point: the largest allocation the heap can still satisfy, which
  is what a user's buffer or a burst of requests needs (fragmentation shows here, not in
  the free total);
- lowest during a soak: keep-alive clients with a phone browser's request heads reading
  /api/board and /api/devices while the two
  pages stay live, the free heap read every 50 ms; and every answer that is not a 200;
- which modules are loaded when the board is idle, and each one's heap: after the run the
  board is soft-reset into its REPL (boot.py only) and the same modules are imported there,
  one at a time, dependencies first, each import's heap measured on its own.

One row per target and deploy form. The result goes to stdout as Markdown (the README's table
and docs/memory.md)
and, with --json, to a file.
"""

import argparse
import ast
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import deploy  # noqa: E402
from bench_http import PHONE  # noqa: E402

from tools.vboard.client import Client, ControlError  # noqa: E402
from tools.vboard.supervisor import HEAP_BYTES, Supervisor, free_port  # noqa: E402

FIRMWARE = ROOT / "firmware"
# target -> the board file it boots: an ESP32 without PSRAM (the tightest heap) and a Pico W.
TARGETS = {"esp32": "esp32_devkitc", "rp2w": "rpi_pico_w"}
# Deploy forms: where the firmware's code lives (tools/deploy.py). "mpy": .mpy files on the
# filesystem, loaded into the heap (stock MicroPython firmware); "romfs": one ROMFS image in
# the board's romfs partition, run in place (a MicroPython build with ROMFS); "frozen": the
# code built into the MicroPython image (firmware/manifest.py), only data on the filesystem.
FORMS = ("mpy", "romfs", "frozen")
WIFI = ("benchlab", "benchlab-pass")
PAGES = 2
# What a phone's browser asks for when it opens the control page, and the answer expected
# (the page carries its icon inline, so a browser does not ask for /favicon.ico).
PAGE_REQUESTS = (("/", 200), ("/api/board", 200))
SOAK_CLIENTS = 4
SOAK_PATHS = ("/api/board", "/api/devices")
POLL_S = 0.05
IDLE_WAIT_S = 45  # the firmware closes a kept-alive connection idle for 30 s (microhttp.server)
# Loaded from frozen bytecode on every port (MicroPython's own manifests freeze asyncio).
FROZEN_PACKAGES = ("asyncio",)


def say(msg):
    print("[bench_firmware] " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- the firmware's modules
def firmware_modules():
    """Module name -> source file, for every module under firmware/ (app at the root, the
    rest under lib/, as on the board's filesystem)."""
    out = {}
    for base in (FIRMWARE, FIRMWARE / "lib"):
        for path in base.rglob("*.py"):
            rel = path.relative_to(base)
            if rel.parts[0] in ("lib", "www") and base == FIRMWARE:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts and parts[0] not in ("boot", "main", "manifest"):
                out[".".join(parts)] = path
    return out


def module_level_imports(path, known):
    """The modules ``path`` imports when it is imported (statements outside functions)."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module)
                found.extend(node.module + "." + alias.name for alias in node.names
                             if node.module + "." + alias.name in known)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
    visit(tree.body)
    return found


def import_order(loaded):
    """The firmware's modules among ``loaded``, dependencies first (a package before its
    submodules), so that importing them in this order measures each one by itself."""
    sources = firmware_modules()
    mine = [name for name in sorted(loaded) if name in sources]
    order, seen = [], set()

    def visit(name):
        if name in seen or name not in sources:
            return
        seen.add(name)
        if "." in name:
            visit(name.rsplit(".", 1)[0])
        for dep in module_level_imports(sources[name], sources):
            visit(dep)
        order.append(name)

    for name in mine:
        visit(name)
    frozen = sorted(name for name in loaded if name.split(".")[0] in FROZEN_PACKAGES)
    return frozen + [name for name in order if name in loaded]


# Runs on the board. A module that imports others at its top (a package's __init__ its
# submodules) is measured with them: the row names every module its import brought in.
CENSUS = """
import gc, sys
_rows = []
for _name in %r:
    if _name in sys.modules:
        continue
    _had = set(sys.modules)
    gc.collect()
    _before = gc.mem_alloc()
    try:
        __import__(_name)
    except Exception as _exc:
        _rows.append((_name, None, repr(_exc), []))
        continue
    gc.collect()
    _rows.append((_name, gc.mem_alloc() - _before, None, sorted(set(sys.modules) - _had - {_name})))
print(repr(_rows))
import micropython
micropython.qstr_info()
"""


def census(port, order):
    """Each module's heap, imported one at a time in ``order`` on a freshly soft-reset board,
    and the qstr figures those imports left (micropython.qstr_info)."""
    transport = deploy.connect(port)  # Ctrl-C, then a soft reset into the raw REPL: boot.py only
    try:
        out = transport.exec(CENSUS % (order,))
    finally:
        try:
            transport.exit_raw_repl()
        finally:
            transport.close()
    text = out.decode().strip()
    rows = ast.literal_eval(text.splitlines()[0])
    # "qstr pool: n_pool=6, n_qstr=832, n_str_data_bytes=7740, n_total_bytes=16748": the
    # interned names the imports added. The total counts the pools and the names' text (py/qstr.c
    # qstr_pool_info); the text is in RAM for .mpy files only, in flash from ROMFS or frozen code.
    qstrs = dict(item.split("=") for item in text.splitlines()[1].split(": ", 1)[1].split(", "))
    out = []
    for name, heap, error, others in rows:
        # Importing a package's submodule runs the package first: name the row after the
        # package when it came along.
        group = sorted([name] + others, key=lambda module: (module.count("."), module))
        out.append({"module": group[0], "heap": heap, "error": error, "with": group[1:]})
    return out, {key: int(value) for key, value in qstrs.items()}


# ---------------------------------------------------------------------- the load
def phone_request(path, accept=None):
    """A request for ``path`` with the head a phone browser sends for it: the page itself (a
    navigation), or a fetch from the page (tools/bench_http.py has the captured header
    fields); ``accept`` replaces the fetch's Accept field (an EventSource asks for
    text/event-stream)."""
    if path == "/":
        return PHONE[0][1] % b"Connection: keep-alive\r\n"
    head = PHONE[1][1].replace(b"/api/status", path.encode(), 1) % b"Connection: keep-alive\r\n"
    if accept is not None:
        head = head.replace(b"Accept: */*\r\n", b"Accept: " + accept + b"\r\nCache-Control: no-cache\r\n", 1)
    return head


def read_response(sock):
    """Status and body of one response with a Content-Length, read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the board closed the connection before answering")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ", 2)[1]), body


class Page:
    """One phone with the control page open: it loaded the page, /api/board and the icon over
    one kept-alive connection, and holds the event stream open on another, reading what the
    board sends (as the page's EventSource does), with a phone browser's request heads."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.errors = []
        self.sockets = []

    def open(self):
        page = socket.create_connection((self.host, self.port), timeout=10)
        self.sockets.append(page)
        for path, wanted in PAGE_REQUESTS:
            page.sendall(phone_request(path))
            status, _ = read_response(page)
            if status != wanted:
                self.errors.append("%s: %d" % (path, status))
        stream = socket.create_connection((self.host, self.port), timeout=10)
        self.sockets.append(stream)
        stream.sendall(phone_request("/api/events", accept=b"text/event-stream"))
        head = stream.recv(1024)
        if not head.startswith(b"HTTP/1.1 200"):
            self.errors.append("/api/events: %r" % head[:40])
        threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def wait_until_page_closed(self, timeout):
        """Wait until the board closes the page's kept-alive connection (its idle timeout), as
        it does on a phone that keeps the page open; the event stream stays."""
        page = self.sockets[0]
        page.settimeout(timeout)
        try:
            while page.recv(1024):
                pass
        except OSError:
            self.errors.append("the page's connection was still open after %d s" % timeout)

    def _drain(self, stream):
        try:
            while stream.recv(4096):
                pass
        except OSError:
            pass

    def close(self):
        for sock in self.sockets:
            sock.close()
        self.sockets = []


def soak(host, port, requests, clients, control):
    """``requests`` GETs from ``clients`` keep-alive clients; returns (lowest free heap seen,
    answers that were not 200, requests per second)."""
    errors, lowest = [], [None]
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            free = control.mem()["free"]
            lowest[0] = free if lowest[0] is None else min(lowest[0], free)
            stop.wait(POLL_S)

    def client(count):
        # A phone's page fetching: its request heads, one kept-alive connection, opened
        # again when the board closes it.
        sock = None
        for i in range(count):
            path = SOAK_PATHS[i % len(SOAK_PATHS)]
            try:
                if sock is None:
                    sock = socket.create_connection((host, port), timeout=10)
                sock.sendall(phone_request(path))
                status, _ = read_response(sock)
                if status != 200:
                    errors.append("%s: %d" % (path, status))
            except (OSError, ValueError) as exc:
                errors.append("%s: %r" % (path, exc))
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(requests // clients,)) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    stop.set()
    poller.join()
    return lowest[0], errors, round(requests / elapsed, 1)


def settled(control, largest=False):
    """The heap once the board is quiet: the better of two readings (a reading right after
    traffic may still see a few blocks the conservative GC keeps for a stale pointer)."""
    time.sleep(1.0)
    first = control.mem(largest)
    second = control.mem(largest)
    return second if second["free"] >= first["free"] else first


# ---------------------------------------------------------------------- one row
class Booted:
    """The firmware deployed in ``form`` on a fresh virtual ``target`` and booted to "ready:"
    (``with Booted(...) as board``): ``board.control``, ``board.http_port``, ``board.url``."""

    def __init__(self, target, form, workdir, name, config=None):
        self.target, self.form = target, form
        self.board_id = TARGETS[target]
        self.heap = HEAP_BYTES[target]
        self.flash = workdir / ("%s-%s-%s" % (target, form, name)) / "flash"
        self.http_port = free_port()
        settings = {"http_port": self.http_port, "dns_port": 0, "hostname": "bench",
                    "wifi": {"networks": [{"ssid": WIFI[0], "password": WIFI[1]}]}}
        settings.update(config or {})
        self.config = self.flash.parent / "device_config.json"
        self.flash.mkdir(parents=True, exist_ok=True)
        self.config.write_text(json.dumps(settings))

    def __enter__(self):
        say("%s (%s, %d KB heap, 32-bit), %s form: deploying" % (self.target, self.board_id, self.heap // 1024, self.form))
        self.log = open(self.flash.parent / "board.log", "wb")
        self.supervisor = Supervisor(self.flash, board=self.board_id, target=self.target, heap=self.heap, bits=32,
                                     log=self.log, wifi=["%s=%s" % WIFI],
                                     romfs_size=None if self.form == "romfs" else 0,
                                     frozen=self.form == "frozen").start()
        self.url = self.supervisor.url
        self.control = Client(self.supervisor.control_port)
        try:
            result = deploy.deploy(self.url, self.board_id, str(self.config), follow=60, until=r"^ready: ",
                                   romfs={"mpy": False, "romfs": True, "frozen": None}[self.form])
            if result["form"] != {"mpy": "filesystem"}.get(self.form, self.form):
                raise RuntimeError("deployed in the %s form, not %s" % (result["form"], self.form))
            if not result.get("ready"):
                raise RuntimeError("the firmware did not print 'ready:' within 60 s; see %s" % self.log.name)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        self.control.close()
        self.supervisor.stop()
        self.log.close()


def measure(target, form, soak_requests, workdir):
    row = {"target": target, "board": TARGETS[target], "form": form, "heap": HEAP_BYTES[target]}
    pages = []
    with Booted(target, form, workdir, "pages") as board:
        control = board.control
        try:
            row["after_boot"] = control.mem()["free"]
            say("pages: %d phones load the page and hold its event stream" % PAGES)
            for _ in range(PAGES):
                page = Page("127.0.0.1", board.http_port)
                page.open()
                pages.append(page)
            row["pages_loaded"] = settled(control)["free"]
            say("idle: waiting for the board to close the pages' idle connections (its idle timeout)")
            for page in pages:
                page.wait_until_page_closed(IDLE_WAIT_S)
            idle = settled(control, largest=True)
            row["idle_two_pages"] = idle["free"]
            row["largest_block_idle"] = idle["largest"]
            row["page_errors"] = [error for page in pages for error in page.errors]
            row["modules"] = control.modules()
            if soak_requests:
                say("soak: %d requests from %d keep-alive clients" % (soak_requests, SOAK_CLIENTS))
                lowest, errors, rate = soak("127.0.0.1", board.http_port, soak_requests, SOAK_CLIENTS, control)
                row["lowest_under_soak"] = lowest
                row["soak_errors"] = errors
                row["soak_requests_per_s"] = rate
                after = settled(control, largest=True)
                row["idle_after_soak"] = after["free"]
                row["largest_block_after_soak"] = after["largest"]
        finally:
            for page in pages:
                page.close()
        say("census: each loaded module imported on its own after a soft reset")
        row["census"], row["qstrs"] = census(board.url, import_order(row["modules"]))
    return row


# Optional features, each switched on by the configuration: what a board has free after boot
# with it, against the default (Wi-Fi joined, no password).
# (name, what switches it on, config.json, the requests a phone makes after boot to use it)
FEATURES = (
    ("default", "Wi-Fi joined, no password", {}, ()),
    ("login", "a password set (auth.password): login, sessions, the API guarded", {"auth": {"password": "benchpass"}},
     ()),
    ("setup", "no network in range: the setup access point and its captive-portal DNS", None, ()),
    ("bindings", "a button bound to a device (bindings): a click toggles the LED, with no network",
     {"bindings": [{"button": "button", "event": "click", "device": "led", "command": {"toggle": True}}]}, ()),
    ("power-on off", "every output off at power-up (power_on): no state kept, none written",
     {"power_on": {"led": "off", "pwm": "off"}}, ()),
    ("settings", "the page's Settings panel opened (GET /api/settings): its code leaves RAM after each request", {},
     ("/api/settings",)),
)


def get_once(port, path):
    """GET ``path`` on a connection of its own, as the page's fetch sends it; the status."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(phone_request(path))
        return read_response(sock)[0]


def feature_costs(target, form, workdir):
    mine = firmware_modules()
    rows = []
    for name, what, config, paths in FEATURES:
        if config is None:  # the setup mode: no network to join, a captive DNS on a free port
            config = {"wifi": {"networks": []}, "dns_port": free_port()}
        with Booted(target, form, workdir, name, config) as board:
            for path in paths:
                status = get_once(board.http_port, path)
                if status != 200:
                    raise SystemExit("bench_firmware: %s answered %d on the %s board" % (path, status, name))
            time.sleep(1.0)
            try:
                modules = board.control.modules()
                rows.append({"feature": name, "what": what, "after_boot": settled(board.control)["free"],
                             "modules": [m for m in modules if m in mine]})
            except ControlError as exc:  # the board's heap could not even answer the measurement
                say("%s: %s; the board's log: %s" % (name, exc, board.log.name))
                rows.append({"feature": name, "what": what, "after_boot": None, "modules": [],
                             "failed": "the board ran out of memory"})
    default = rows[0]
    for row in rows:
        row["cost"] = None if None in (default["after_boot"], row["after_boot"]) else \
            default["after_boot"] - row["after_boot"]
        row["loads"] = sorted(set(row["modules"]) - set(default["modules"]))
    return rows


# ---------------------------------------------------------------------- the report
def kb(value):
    return "-" if value is None else "%.1f KB" % (value / 1024)


def features_markdown(target, form, rows):
    out = ["", "Optional features, %s, %s form (free heap after boot; cost against the default):" % (target, form), "",
           "| feature | what switches it on | free after boot | cost | modules it loads |", "|---|---|---|---|---|"]
    for row in rows:
        out.append("| %s | %s | %s | %s | %s |" % (row["feature"], row["what"],
                                                   row.get("failed") or kb(row["after_boot"]),
                                                   "-" if row["feature"] == "default" else kb(row["cost"]),
                                                   ", ".join(row["loads"]) or "-"))
    return "\n".join(out)


def markdown(rows):
    out = ["| target | form | heap | free after boot | two pages loaded | free idle, two pages live "
           "| largest free block idle | lowest under soak | non-200 in soak |",
           "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["target"], row["form"], kb(row["heap"]), kb(row.get("after_boot")), kb(row.get("pages_loaded")),
            kb(row.get("idle_two_pages")),
            kb(row.get("largest_block_idle")), kb(row.get("lowest_under_soak")),
            len(row.get("soak_errors", [])) if "soak_errors" in row else "-"))
    for row in rows:
        total = sum(entry["heap"] or 0 for entry in row["census"])
        qstrs = row.get("qstrs", {})
        text = qstrs.get("n_str_data_bytes", 0)
        pools = qstrs.get("n_total_bytes", 0) - text
        out += ["", "Modules loaded at idle, %s, %s form (heap of each import, dependencies first; "
                "total %s, of which %s are the pools of %d interned names%s):"
                % (row["target"], row["form"], kb(total), kb(pools), qstrs.get("n_qstr", 0),
                   " and %s their text" % kb(text) if row["form"] == "mpy" else ""), "",
                "| module | heap |", "|---|---|"]
        for entry in sorted(row["census"], key=lambda e: -(e["heap"] or 0)):
            name = entry["module"]
            if entry["with"]:
                name += " (with %s)" % ", ".join(entry["with"])
            out.append("| %s | %s |" % (name, entry["error"] or "%d B" % entry["heap"]))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", action="append", choices=sorted(TARGETS),
                        help="simulated board (repeatable; default: all of %s)" % ", ".join(sorted(TARGETS)))
    parser.add_argument("--form", action="append", choices=FORMS,
                        help="deploy form (repeatable; default: all)")
    parser.add_argument("--soak", type=int, default=2000, help="requests in the soak (0: none; default %(default)s)")
    parser.add_argument("--features", action="store_true",
                        help="also measure what each optional feature costs (login, setup mode, bindings, power-on off, settings) on the first "
                        "target and form")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--workdir", help="where the virtual boards' flash goes (default: a temporary folder)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-firmware-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        for target in args.target or sorted(TARGETS):
            for form in args.form or FORMS:
                rows.append(measure(target, form, args.soak, workdir))
        features = None
        if args.features:
            target, form = (args.target or sorted(TARGETS))[0], (args.form or FORMS)[0]
            features = feature_costs(target, form, workdir)
    report = markdown(rows)
    if features:
        report += "\n" + features_markdown(target, form, features)
    print(report)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows, "features": features}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
