#!/usr/bin/env python3
"""HTTP server benchmark on the MicroPython unix port: microhttp vs Microdot 2.7.0 vs a bare
asyncio server (the floor), side by side in one run. Every app is compiled to .mpy first.

    source tools/bootstrap.sh
    python tools/bench_http.py                 # full run (about 3 minutes), table on stdout
    python tools/bench_http.py --json out.json # also machine-readable results
    python tools/bench_http.py --quick         # smoke mode (seconds): small counts, no floor search
    python tools/bench_http.py --bits 32       # on the unix port's 32-bit build (the boards' word size)
    python tools/bench_http.py --baseline REV  # also microhttp as committed at REV: before/after

Measures, per server (the same app everywhere: GET / a 2 KB page, GET /api/status small JSON,
POST /api/led with {"on": true}):
- W: 4 concurrent clients, 400 requests cycling the three, a new connection per request;
  W-KA: the same over keep-alive connections (a server that closes per request reconnects).
  P and P-KA: W and W-KA with a phone browser's request heads (Chrome on Android: client
  hints, fetch metadata, a cookie; 544-703 bytes of header fields) instead of Host alone.
- throughput at a 128 KB heap: req/s (median of rounds) and p50/p95 latency.
- memory floor, per workload: the smallest -X heapsize (4 KB steps) serving it with no
  failure at 50 % or more of its req/s at 128 KB (best runs of 2000 requests), twice in a
  row (bisection, then confirmation), and the req/s there; microhttp's over Microdot's.
- heap taken by importing the framework (gc.mem_alloc after gc.collect, before/after).
- heap allocated per GET, inside the server with gc disabled (difference of two runs of
  different lengths, so the probes' own cost cancels out).
- .mpy code size of every module.

The client is CPython with raw sockets and a thread pool, 127.0.0.1 only, every socket
operation bounded by a timeout. Microdot's source is copied from the installed wheel into
build/bench at run time (it is not part of this repository).
"""

import argparse
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS_SRC = ROOT / "tools" / "bench_apps"
MICROHTTP_SRC = ROOT / "firmware" / "lib" / "microhttp"
BUILD = ROOT / "build" / "bench"
SERVERS = ("microhttp", "microdot", "bare")
CORE = ("h1", "server", "router", "request", "response")  # the definition of the core
HOST = "127.0.0.1"
PAGE_SIZE = 2048
IO_TIMEOUT = 5.0  # seconds for any single connect/send/recv
# The unix port's build: 64-bit (the reference figures were measured there) or 32-bit
# (a board's word size: objects and heap blocks take half the bytes). Set by --bits.
BITS = 64
ROMFS_ERASE_BLOCK_BYTES = 4096  # tools/unix_port/microhttp/vfs_rom_file.c
FORM = "mpy"  # where the modules' code lives: "mpy" files (loaded into the heap) or a ROMFS image

# The three requests, each a head template whose "%s" is the Connection field: per request
# head kind (HEADS), the field that keeps the connection open and the one that closes it.
PLAIN = (
    ("GET /", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"),
    ("GET /api/status", b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"),
    ("POST /api/led", b"POST /api/led HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 12\r\n%s\r\n{\"on\": true}"),
)
REQUESTS = PLAIN  # (the name other tools and tests know)

# What a phone browser sends to a device's page: the header fields, their order and values
# as Chromium 156 sent them with Playwright's "Pixel 7" emulation (Chrome on Android's
# User-Agent and client hints), captured on 127.0.0.1: the page opened from a bookmark
# (Sec-Fetch-Site: none), its fetch() of a JSON status and its JSON POST, once the page had
# set a session cookie (a 43-character token: 32 random bytes in base64url). sec-ch-ua lists
# the three brands Google Chrome sends (Chromium sends two); Host, Origin and Referer name
# 127.0.0.1 without a port. 544-703 bytes of header fields (the request line aside).
_UA = (b"User-Agent: Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
       b"Chrome/156.0.0.0 Mobile Safari/537.36\r\n")
_CH = (b'sec-ch-ua: "Google Chrome";v="156", "Chromium";v="156", "Not:A-Brand";v="8"\r\n'
       b"sec-ch-ua-mobile: ?1\r\n")
_PLATFORM = b'sec-ch-ua-platform: "Android"\r\n'
_TAIL = (b"Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n"
         b"Cookie: sid=Zk3q9Zt0uQmXkR2bB7yVxJcA8PdLw4EhN1oGfTs6iUa\r\n")
_CORS = (b"Accept: */*\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Dest: empty\r\n")
PHONE = (
    ("GET /", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n%s" + _CH + _PLATFORM + b"Upgrade-Insecure-Requests: 1\r\n"
     + _UA + b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
     b"image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\nSec-Fetch-Site: none\r\n"
     b"Sec-Fetch-Mode: navigate\r\nSec-Fetch-User: ?1\r\nSec-Fetch-Dest: document\r\n" + _TAIL + b"\r\n"),
    ("GET /api/status", b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n%s" + _PLATFORM + _UA + _CH + _CORS
     + b"Referer: http://127.0.0.1/\r\n" + _TAIL + b"\r\n"),
    ("POST /api/led", b"POST /api/led HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: 12\r\n" + _PLATFORM + _UA
     + _CH.replace(b"\r\nsec", b"\r\nContent-Type: application/json\r\nsec") + _CORS.replace(
         b"*/*\r\n", b"*/*\r\nOrigin: http://127.0.0.1\r\n") + b"Referer: http://127.0.0.1/\r\n" + _TAIL
     + b"\r\n{\"on\": true}"),
)
# kind: (the requests, Connection field keeping the connection open, the field closing it)
HEADS = {
    "plain": (PLAIN, b"", b"Connection: close\r\n"),
    "phone": (PHONE, b"Connection: keep-alive\r\n", b"Connection: close\r\n"),
}
# The workloads: name: (head kind, keep-alive)
WORKLOADS = {"W": ("plain", False), "W-KA": ("plain", True), "P": ("phone", False), "P-KA": ("phone", True)}


def head_fields_size(template, connection):
    """Bytes of a request head's header fields (the request line and the empty line aside)."""
    head = (template % connection).split(b"\r\n\r\n")[0] + b"\r\n"
    return len(head) - len(head.split(b"\r\n")[0]) - 2


def log(msg):
    print("[bench] " + msg, file=sys.stderr, flush=True)


# --- build -------------------------------------------------------------------------------------

def micropython_binary():
    """The provisioned unix-port interpreter (tools/provision_micropython.py), BITS wide."""
    sys.path.insert(0, str(ROOT / "tools"))
    import provision_micropython

    return provision_micropython.interpreter(BITS)


def mpy_cross(src, dst, lib=None):
    """Compile src to dst, under the module folder ``lib`` (BUILD/lib by default). The source
    name stored in the .mpy (shown in tracebacks, and kept in RAM as a string) is the module's
    path inside the image, as tools/deploy.py does, not this machine's path: the same for every
    framework, so no one pays for where the checkout is."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("mpy-cross") or str(Path(sys.executable).parent / "mpy-cross")
    name = dst.relative_to(lib or BUILD / "lib").with_suffix(".py").as_posix()
    subprocess.run([exe, "-o", str(dst), "-s", name, str(src)], check=True, capture_output=True)
    return dst.stat().st_size


def microhttp_available():
    return (MICROHTTP_SRC / "__init__.py").exists()


def server_dir(name):
    """The working directory a server runs in: BUILD, or for microhttp@REV (microhttp as it
    was at git revision REV, see --baseline) a folder of its own with the same layout."""
    return BUILD / name.replace("@", "-") if "@" in name else BUILD


def build(servers):
    """Compile the apps and frameworks to .mpy under build/bench; return {server: {module: bytes}}."""
    if BUILD.exists():
        shutil.rmtree(BUILD)
    lib = BUILD / "lib"
    sizes = {}
    for src in sorted(APPS_SRC.glob("*.py")):
        mpy_cross(src, lib / (src.stem + ".mpy"))
    if "microhttp" in servers:
        sizes["microhttp"] = {}
        for src in sorted(MICROHTTP_SRC.glob("*.py")):
            sizes["microhttp"][src.stem] = mpy_cross(src, lib / "microhttp" / (src.stem + ".mpy"))
    for name in servers:
        if name.startswith("microhttp@"):
            # The same apps, and microhttp's sources as committed at that revision.
            rev, base_lib = name.split("@", 1)[1], server_dir(name) / "lib"
            src_dir = server_dir(name) / "src"
            src_dir.mkdir(parents=True)
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "firmware/lib/microhttp"],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(src_dir)], input=archive, check=True)
            for src in sorted(APPS_SRC.glob("*.py")):
                mpy_cross(src, base_lib / (src.stem + ".mpy"), base_lib)
            sizes[name] = {}
            for src in sorted((src_dir / "firmware" / "lib" / "microhttp").glob("*.py")):
                sizes[name][src.stem] = mpy_cross(src, base_lib / "microhttp" / (src.stem + ".mpy"), base_lib)
    if "microdot" in servers:
        spec = importlib.util.find_spec("microdot")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("microdot is not installed in this Python (source tools/bootstrap.sh)")
        pkg = Path(list(spec.submodule_search_locations)[0])
        sizes["microdot"] = {}
        # The minimal install its docs describe: the package's __init__ and microdot.py.
        for name in ("__init__", "microdot"):
            sizes["microdot"][name] = mpy_cross(pkg / (name + ".py"), lib / "microdot" / (name + ".mpy"))
    return sizes


def mp_env(directory=None):
    # Relative to BUILD, the working directory of every process: a loaded module's path is
    # interned in RAM (its __file__), so it reads "lib/microhttp/h1.mpy" as on a board
    # ("/lib/..."), whatever the checkout's own path is, for every framework alike. In the
    # ROMFS form the same tree is an image in the interpreter's ROMFS partition (the unix
    # port variant of tools/unix_port), mounted at /rom: the bytecode runs in place, as from
    # a board's romfs partition, and every framework gets the same treatment.
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:lib"
    if FORM == "romfs":
        env["MICROPYPATH"] = ".frozen:/rom/lib"
        env["MICROHTTP_ROMFS"] = str((directory or BUILD) / "romfs.img")
    return env


def build_romfs(directory):
    """The ROMFS image of ``directory``'s lib/ tree (tools/deploy.py's writer), as romfs.img."""
    sys.path.insert(0, str(ROOT / "tools"))
    import deploy

    lib = directory / "lib"
    code = {"lib/" + path.relative_to(lib).as_posix(): path for path in sorted(lib.rglob("*.mpy"))}
    image = deploy.build_romfs_image(code)
    # A partition is whole erase blocks, the rest erased flash (0xff).
    image += b"\xff" * (-len(image) % ROMFS_ERASE_BLOCK_BYTES)
    (directory / "romfs.img").write_bytes(image)


# --- server processes --------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """One app on the unix port with a given heap; ``ok`` is False if it never became ready."""

    def __init__(self, name, heap_kb, timeout=20):
        self.name = name
        self.port = free_port()
        self.lines = []
        cmd = [micropython_binary(), "-X", "heapsize=%dk" % heap_kb, "-m", "app_" + name.split("@")[0],
               str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=str(server_dir(name)), env=mp_env(server_dir(name)), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace")
        self._ready = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()
        self._ready.wait(timeout)
        self.ok = self.alive() and any(line.startswith("ready ") for line in self.lines)
        self.heap_used = None  # gc.mem_alloc() once started, after gc.collect()
        for line in self.lines:
            if line.startswith("ready ") and "heap_used=" in line:
                self.heap_used = int(line.split("heap_used=")[1].split()[0])

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("ready "):
                self._ready.set()
        self._ready.set()

    def alive(self):
        return self.proc.poll() is None

    def output(self):
        return "".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --- the client --------------------------------------------------------------------------------

class Conn:
    """A raw-socket HTTP/1.1 client connection that reads one response at a time."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed mid-response")
        self.buf += data

    def request(self, raw):
        """Send ``raw``; return (status, headers dict, body, server_keeps_connection)."""
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
            if len(self.buf) > 65536:
                raise ValueError("response head too large")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ", 2)[:2]
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        conn = headers.get("connection", "").lower()
        keep = ("close" not in conn) if version == "HTTP/1.1" else ("keep-alive" in conn)
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        else:  # delimited by the close (RFC 9112 §6.3)
            while True:
                try:
                    self._fill()
                except ConnectionError:
                    break
            body, self.buf, keep = self.buf, b"", False
        return int(status), headers, body, keep

    def _chunked(self):
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            n = int(line.split(b";")[0], 16)
            while len(self.buf) < n + 2:
                self._fill()
            out += self.buf[:n]
            self.buf = self.buf[n + 2:]
            if n == 0:
                return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def check(kind, status, body):
    if status != 200:
        return "status %d" % status
    if kind == 0 and len(body) != PAGE_SIZE:
        return "page of %d bytes" % len(body)
    if kind == 1 and "led" not in json.loads(body):
        return "bad status JSON"
    if kind == 2 and json.loads(body) != {"on": True}:
        return "bad LED answer %r" % body[:40]
    return None


def workload(port, wl, total, clients, stop_on_failure=False, deadline_s=120, slow_after_s=None):
    """Run ``total`` requests of workload ``wl`` (WORKLOADS) cycling the three kinds over
    ``clients`` threads. With ``slow_after_s``, stop once that many seconds have passed: the
    run is then too slow for the rate asked (``slow`` in the result; not a failure)."""
    heads, keepalive = WORKLOADS[wl]
    requests, keep_field, close_field = HEADS[heads]
    conn_header = keep_field if keepalive else close_field
    lock = threading.Lock()
    state = {"next": 0, "failures": 0, "errors": [], "connections": 0, "slow": False}
    latencies = []
    stop = threading.Event()
    t_start = time.monotonic()
    end_by = t_start + deadline_s
    slow_by = None if slow_after_s is None else t_start + slow_after_s

    def client():
        conn = None
        while not stop.is_set():
            with lock:
                i = state["next"]
                if i >= total:
                    break
                state["next"] = i + 1
            kind = i % 3
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = Conn(port)
                    with lock:
                        state["connections"] += 1
                status, _, body, keep = conn.request(requests[kind][1] % conn_header)
                problem = check(kind, status, body)
                if not keepalive or not keep:
                    conn.close()
                    conn = None
            except (OSError, ValueError) as exc:
                problem = "%s: %s" % (type(exc).__name__, exc)
                if conn is not None:
                    conn.close()
                conn = None
            dt = time.perf_counter() - t0
            with lock:
                if problem:
                    state["failures"] += 1
                    if len(state["errors"]) < 5:
                        state["errors"].append("%s: %s" % (requests[kind][0], problem))
                    if stop_on_failure:
                        stop.set()
                else:
                    latencies.append(dt)
            now = time.monotonic()
            if now > end_by:
                with lock:
                    state["errors"].append("deadline of %d s reached" % deadline_s)
                    state["failures"] += 1
                stop.set()
            elif slow_by is not None and now > slow_by:
                state["slow"] = True
                stop.set()
        if conn is not None:
            conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(deadline_s + 2 * IO_TIMEOUT)
    elapsed = time.perf_counter() - t0
    done = len(latencies)
    lat = sorted(latencies)
    return {
        "requests": state["next"], "ok": done, "failures": state["failures"], "errors": state["errors"],
        "connections": state["connections"], "seconds": round(elapsed, 3), "slow": state["slow"],
        "req_per_s": round(done / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
        "p95_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.95))], 2) if lat else None,
    }


def warm_up(port, wl="W", n=6):
    """A few requests on new connections first: the first ones load a framework's lazy modules."""
    requests, _, close_field = HEADS[WORKLOADS[wl][0]]
    for i in range(n):
        conn = Conn(port)
        try:
            status, _, _, _ = conn.request(requests[i % 3][1] % close_field)
        finally:
            conn.close()
        if status != 200:
            raise ValueError("warm-up request %d answered %d" % (i, status))


# --- measurements -------------------------------------------------------------------------------

# The memory floor: the smallest heap serving a workload with no failure at no less than this
# share of the req/s it has at the reference heap (--heap): a server that only keeps up by
# throttling itself (admission waiting for memory) has not really got enough heap.
FLOOR_SPEED = 0.5


def serves(name, heap_kb, wl, total, clients, min_rps=0.0, attempts=3):
    """(True, run) when a fresh server with this heap answers the warm-up and then the whole
    workload without a failure at ``min_rps`` or more, else (False, why). A run found slower
    than that is stopped there (it cannot pass) and tried again on a fresh server, up to
    ``attempts`` runs in all: other processes on the machine only ever slow a run down, by
    tens of percent now and then, while a server throttling itself is slow every time."""
    for _attempt in range(attempts):
        with Server(name, heap_kb) as srv:
            if not srv.ok:
                return False, "did not start"
            try:
                warm_up(srv.port, wl)
            except (OSError, ValueError) as exc:
                return False, "warm-up: %s: %s" % (type(exc).__name__, exc)
            slow_after = total / min_rps if min_rps else None
            res = workload(srv.port, wl, total, clients, stop_on_failure=True, deadline_s=60,
                           slow_after_s=slow_after)
            alive = srv.alive()
        if res["failures"] or not alive:
            return False, (res["errors"][:1] or ["server exited"])[0]
        if not res["slow"] and res["req_per_s"] >= min_rps:
            return True, res
    return False, "below %.0f req/s (%d requests in %.2f s)" % (min_rps, res["ok"], res["seconds"])


def find_floor(probe, lo_kb, hi_kb, step_kb=4):
    """The smallest heap (a multiple of step_kb) where ``probe(kb)`` holds twice in a row, given
    that it holds at hi_kb; None if no heap up to hi_kb does.

    A bisection between lo_kb (taken to fail) and hi_kb, then confirmation: the bisection's
    answer is probed twice more, and while either fails, the next step up is. About
    log2((hi-lo)/step) + 2 probes when the answer holds."""
    lo, hi = lo_kb, hi_kb  # invariant: lo fails (or is the lower bound), hi serves
    while hi - lo > step_kb:
        mid = (lo + hi) // 2 // step_kb * step_kb
        if mid in (lo, hi):
            break
        if probe(mid):
            hi = mid
        else:
            lo = mid
    floor = hi
    while floor <= hi_kb:
        if probe(floor) and probe(floor):  # the two confirmation runs, in a row
            return floor
        floor += step_kb
    return None


def memory_floor(name, wl, total, clients, ref_kb, lo_kb=4, ref_runs=3):
    """Workload ``wl``'s memory floor: its req/s at ref_kb (the best of ``ref_runs`` runs of
    ``total`` requests), then the smallest heap in 4 KB steps serving it with no failure at
    FLOOR_SPEED of that or more (the best of up to 3 runs, see serves()), twice in a row, and
    the req/s there (the slower of the two)."""
    out = {"ref_kb": ref_kb, "floor_kb": None}
    ref = []
    for _ in range(ref_runs):
        ok, run = serves(name, ref_kb, wl, total, clients, attempts=1)
        if not ok:
            log("  %s %s heap=%dk: FAIL (%s)" % (name, wl, ref_kb, run))
            out["note"] = "fails at %d KB: %s" % (ref_kb, run)
            return out
        ref.append(run["req_per_s"])
    out["ref_req_per_s"] = max(ref)  # the best run: the least disturbed by other processes
    out["min_req_per_s"] = min_rps = round(FLOOR_SPEED * out["ref_req_per_s"], 1)
    log("  %s %s heap=%dk: %s req/s: the floor needs %.0f" % (name, wl, ref_kb, ref, min_rps))
    probes = out["probes"] = []
    runs = {}

    def probe(kb):
        ok, run = serves(name, kb, wl, total, clients, min_rps)
        probes.append((kb, ok, run["req_per_s"] if ok else run))
        log("  %s %s heap=%dk: %s" % (name, wl, kb, "ok, %.0f req/s" % run["req_per_s"] if ok else "FAIL (%s)" % run))
        if ok:
            runs.setdefault(kb, []).append(run)
        return ok

    floor = find_floor(probe, lo_kb, ref_kb)
    if floor is None:
        out["note"] = "no heap up to %d KB passed twice" % ref_kb
        return out
    slower = min(runs[floor][-2:], key=lambda r: r["req_per_s"])  # the two confirmation runs
    out.update({"floor_kb": floor, "req_per_s": slower["req_per_s"], "p50_ms": slower["p50_ms"],
                "p95_ms": slower["p95_ms"]})
    return out


def import_heap(servers):
    """gc.mem_alloc growth from importing asyncio, then each framework (fresh process each)."""
    code = (
        "import gc,sys\ngc.collect();a=gc.mem_alloc()\nimport asyncio\ngc.collect();b=gc.mem_alloc()\n"
        "before=set(sys.modules)\nimport %s\ngc.collect();c=gc.mem_alloc()\n"
        "print('@@', b-a, c-b, ' '.join(sorted(k for k in sys.modules if k not in before)))\n"
    )
    out = {}
    targets = []
    if "microhttp" in servers:
        # microhttp imports its server module at App.start(): count it, an app needs it to serve.
        targets.append(("microhttp", "microhttp, microhttp.server"))
    if "microdot" in servers:
        targets.append(("microdot", "microdot"))
    for name, module in targets:
        proc = subprocess.run([micropython_binary(), "-X", "heapsize=1m", "-c", code % module],
                              cwd=str(BUILD), env=mp_env(), capture_output=True, text=True, timeout=60)
        line = [x for x in proc.stdout.splitlines() if x.startswith("@@")]
        if not line:
            out[name] = {"error": (proc.stdout + proc.stderr)[-500:]}
            continue
        _, asyncio_b, module_b, *mods = line[0].split()
        out[name] = {"asyncio_bytes": int(asyncio_b), "import_bytes": int(module_b), "modules": mods}
    if "microhttp" in servers:
        for src in sorted(MICROHTTP_SRC.glob("*.py")):
            mod = "microhttp." + src.stem
            if src.stem == "__init__" or mod in out["microhttp"].get("modules", ()):
                continue
            code2 = ("import gc,microhttp,microhttp.server\ngc.collect();a=gc.mem_alloc()\nimport %s\n"
                     "gc.collect();print('@@', gc.mem_alloc()-a)\n" % mod)
            proc = subprocess.run([micropython_binary(), "-X", "heapsize=1m", "-c", code2],
                                  cwd=str(BUILD), env=mp_env(), capture_output=True, text=True, timeout=60)
            line = [x for x in proc.stdout.splitlines() if x.startswith("@@")]
            out.setdefault("extensions", {})[src.stem] = int(line[0].split()[1]) if line else None
    return out


def alloc_per_request(name, keepalive, short, long, path=b"/api/status", heads="plain"):
    """Heap allocated per GET inside the server, gc disabled: (d(long) - d(short)) / (long - short).
    With ``heads="phone"``, the GET carries the phone browser's fields of GET /api/status."""
    _, keep_field, close_field = HEADS[heads]
    conn_header = keep_field if keepalive else close_field
    if heads == "plain":
        req = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, conn_header)
    else:
        req = PHONE[1][1].replace(b"/api/status", path, 1) % conn_header
    deltas = []
    with Server(name, 16 * 1024) as srv:
        if not srv.ok:
            return None
        warm_up(srv.port)
        for n in (short, long):
            conn = Conn(srv.port)
            probe = b"GET /_mem/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
            status, _, _, keep = conn.request(probe % (b"start", b"" if keepalive else b"Connection: close\r\n"))
            for _ in range(n):
                if not keepalive or not keep:
                    conn.close()
                    conn = Conn(srv.port)
                status, _, body, keep = conn.request(req)
                assert status == 200, status
            if not keepalive or not keep:
                conn.close()
                conn = Conn(srv.port)
            status, _, body, keep = conn.request(probe % (b"stop", b"Connection: close\r\n"))
            conn.close()
            deltas.append(int(body))
    return round((deltas[1] - deltas[0]) / (long - short))


# --- report -------------------------------------------------------------------------------------

def kb(n):
    return "-" if n is None else "%.1f KB" % (n / 1024)


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, header, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join("%-*s" % (w, str(c)) for w, c in zip(widths, r, strict=True)))
    return "\n".join(out)


def report(res):
    servers = res["servers"]
    form = "run in place from a ROMFS image" if res.get("form") == "romfs" else "loaded from the filesystem"
    parts = ["MicroPython %s unix port (%d-bit), apps compiled to .mpy and %s; %d clients, %d requests per workload"
             % (res["micropython"], res.get("bits", 64), form, res["clients"], res["requests"])]
    rows = []
    for s in servers:
        for wl in WORKLOADS:
            t = res["throughput"].get(s, {}).get(wl)
            if not t:
                continue
            closes = WORKLOADS[wl][1] and t["connections"] == t["requests"]
            note = " (server closes: = %s)" % wl.replace("-KA", "") if closes else ""
            rows.append([s, wl + note, t["req_per_s"], t["p50_ms"], t["p95_ms"], t["connections"], t["failures"]])
    parts.append("\nThroughput at a %d KB heap (median of %d rounds)\n" % (res["heap_kb"], res["rounds"])
                 + table(rows, ["server", "workload", "req/s", "p50 ms", "p95 ms", "connections", "failures"]))
    if res.get("floor"):
        parts.append("\nMemory floor: smallest -X heapsize (4 KB steps) serving the workload with no failure "
                     "at >= %d%% of its req/s at %d KB (best of 3 runs; a probe: best of up to 3), twice in a "
                     "row; req/s there (the slower of the two); %d requests a run\n" % (100 * FLOOR_SPEED, res["heap_kb"], res["floor_requests"])
                     + table(*floor_rows(res)))
    imp = res.get("import", {})
    rows = [[s, kb(n)] for s, n in res.get("started_heap", {}).items()]
    parts.append("\nHeap in use once the app is started and idle (gc.mem_alloc after gc.collect)\n"
                 + table(rows, ["server", "heap in use"]))
    rows = []
    for s in ("microhttp", "microdot"):
        if s in imp and "import_bytes" in imp[s]:
            rows.append([s, kb(imp[s]["import_bytes"]), kb(imp[s]["asyncio_bytes"]), " ".join(imp[s]["modules"])])
    for ext, n in sorted(imp.get("extensions", {}).items()):
        rows.append(["microhttp." + ext, kb(n), "", "(after the core)" if n is not None else "not importable here"])
    parts.append("\nHeap taken by import (gc.mem_alloc after gc.collect)\n"
                 + table(rows, ["module", "import", "asyncio", "modules loaded"]))
    rows = []
    for s in servers:
        a = res["alloc"].get(s, {})
        ka = ("n/a (closes)",) * 3 if "ka_status" not in a else (a["ka_status"], a["ka_page"], a.get("phone_ka_status"))
        rows.append([s, ka[0], ka[1], a.get("close_status"), a.get("close_page"), ka[2], a.get("phone_close_status")])
    parts.append("\nHeap allocated per request, bytes (gc disabled, inside the server)\n"
                 + table(rows, ["server", "KA /api/status", "KA /", "close /api/status", "close /",
                                "phone KA /api/status", "phone close /api/status"]))
    rows = []
    for s, mods in res["sizes"].items():
        for m, n in sorted(mods.items()):
            rows.append([s, m + ".mpy", n, "core" if s == "microhttp" and m in CORE else ""])
        if s == "microhttp":
            rows.append([s, "core total (" + "+".join(CORE) + ")", sum(mods.get(m, 0) for m in CORE), ""])
        rows.append([s, "total", sum(mods.values()), ""])
    parts.append("\nCode size (.mpy bytes)\n" + table(rows, ["package", "module", "bytes", ""]))
    rows = [[s, v["mpy_bytes"], " ".join(v["modules"])] for s, v in res.get("loaded", {}).items()]
    if rows:
        parts.append("\nModules loaded after serving W (lazy imports included), .mpy bytes\n"
                     + table(rows, ["package", "bytes", "modules"]))
    if res.get("targets"):
        rows = [[t["target"], t["measured"], "met" if t["met"] else "MISSED"] for t in res["targets"]]
        parts.append("\nTargets (issues 3 and 6)\n" + table(rows, ["target", "measured", ""]))
    return "\n".join(parts)


def floor_text(result):
    return "%d KB" % result["floor_kb"] if result and result.get("floor_kb") else "-"


def floor_ratio(res, wl):
    """microhttp's floor over Microdot's for workload ``wl``, or None."""
    fl = res.get("floor") or {}
    a = (fl.get("microhttp", {}).get(wl) or {}).get("floor_kb")
    b = (fl.get("microdot", {}).get(wl) or {}).get("floor_kb")
    return a / b if a and b else None


def floor_rows(res):
    """(rows, header) of the floor table: a row per workload, a floor and its req/s per server."""
    servers = [s for s in res["servers"] if s in res["floor"]]
    header = ["workload", "heads", "connection"]
    for s in servers:
        header += [s, "req/s there", "at %d KB" % res["heap_kb"]]
    header.append("microhttp / microdot")
    rows = []
    for wl, (heads, ka) in WORKLOADS.items():
        row = [wl, heads, "keep-alive" if ka else "close"]
        for s in servers:
            f = res["floor"][s].get(wl) or {}
            row += [floor_text(f), "%.0f" % f["req_per_s"] if f.get("req_per_s") else "-",
                    "%.0f" % f["ref_req_per_s"] if f.get("ref_req_per_s") else "-"]
        ratio = floor_ratio(res, wl)
        row.append("-" if ratio is None else "%.2f" % ratio)
        rows.append(row)
    return rows, header


def markdown(res):
    """The HTTP server's figures (docs/benchmarks.md), as Markdown tables (written by --markdown FILE)."""
    def md(rows, header):
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        return "\n".join(out)

    servers = res["servers"]
    tp, fl, imp, al = res["throughput"], res.get("floor") or {}, res.get("import", {}), res["alloc"]
    rows = []
    for s in servers:
        w, ka = tp[s]["W"], tp[s]["W-KA"]
        closes = ka["connections"] == ka["requests"]
        rows.append([
            "**%s**" % s if s == "microhttp" else s,
            "%.0f" % w["req_per_s"], "%s / %s" % (w["p50_ms"], w["p95_ms"]),
            ("%.0f" % ka["req_per_s"]) + (" (closes: = W)" if closes else ""),
            "%s / %s" % (ka["p50_ms"], ka["p95_ms"]),
            kb(imp.get(s, {}).get("import_bytes")) if s in imp else "-",
            kb(res.get("started_heap", {}).get(s)),
            "%s / %s" % (al[s].get("ka_status", "n/a"), al[s].get("close_status")),
        ])
    parts = [md(rows, ["server", "W req/s", "W p50/p95 ms", "W-KA req/s", "W-KA p50/p95 ms",
                       "import heap", "in use when started", "heap/GET KA / close (B)"])]
    if fl:
        rows, header = floor_rows(res)
        parts.append("Memory floor: the smallest heap serving the workload with no failure at >= %d%% of its "
                     "req/s at %d KB (best of 3 runs; a probe: best of up to 3), twice in a row, and the "
                     "req/s there (%d requests a run); P and P-KA send the phone browser's heads:\n\n"
                     % (100 * FLOOR_SPEED, res["heap_kb"], res["floor_requests"]) + md(rows, header))
    sizes = res["sizes"].get("microhttp", {})
    if sizes:
        core = sum(sizes.get(m, 0) for m in CORE)
        rest = ", ".join("`%s` %d" % (m, n) for m, n in sorted(sizes.items()) if m not in CORE)
        parts.append("Code size (.mpy bytes): microhttp core (%s) **%d**; other modules: %s. Microdot: "
                     "microdot.mpy %d." % (" + ".join(CORE), core, rest, res["sizes"].get("microdot", {}).get("microdot", 0)))
    for s, v in res.get("loaded", {}).items():
        parts.append("Modules %s has loaded after serving W (lazy imports included): %s: **%d** bytes of .mpy."
                     % (s, ", ".join("`%s`" % m for m in v["modules"]), v["mpy_bytes"]))
    ext = imp.get("extensions", {})
    if ext:
        parts.append("Heap taken by importing each extra module after the core: "
                     + ", ".join("`%s` %s" % (m, kb(n)) for m, n in sorted(ext.items()) if n is not None) + ".")
        host_only = [m for m, n in sorted(ext.items()) if n is None]
        if host_only:
            parts.append("Not importable on MicroPython (host-side helpers, never loaded on a board): "
                         + ", ".join("`%s`" % m for m in host_only) + ".")
    if imp.get("microhttp"):
        parts.append("`import asyncio` alone: %s." % kb(imp["microhttp"]["asyncio_bytes"]))
    if res.get("bits", 64) != 64:
        parts.append("On the %d-bit build: the issue's targets are checked on the 64-bit build, where its "
                     "reference figures were measured." % res["bits"])
    if res.get("targets"):
        parts.append(md([[t["target"], t["measured"], "met" if t["met"] else "**missed**"] for t in res["targets"]],
                        ["target (issues 3 and 6)", "measured", ""]))
    return "\n\n".join(parts) + "\n"


def targets(res):
    """The issue's targets, checked against this run's figures (only those it measured)."""
    out = []
    tp, fl, imp = res["throughput"], res.get("floor") or {}, res.get("import", {})
    if "microhttp" not in tp or "microdot" not in tp or res.get("bits", 64) != 64 or res.get("form") == "romfs":
        return out  # the targets' reference figures (Microdot 72 KB, ...) are the 64-bit build's
    mh, md = tp["microhttp"], tp["microdot"]
    ratio = mh["W"]["req_per_s"] / md["W"]["req_per_s"]
    out.append({"target": "W >= 1.2x Microdot W", "measured": "%.2fx" % ratio, "met": ratio >= 1.2})
    ratio = mh["W-KA"]["req_per_s"] / md["W"]["req_per_s"]
    out.append({"target": "W-KA >= 2x Microdot W", "measured": "%.2fx" % ratio, "met": ratio >= 2})
    out.append({"target": "keep-alive p50 <= close p50", "measured": "%s ms vs %s ms"
                % (mh["W-KA"]["p50_ms"], mh["W"]["p50_ms"]), "met": mh["W-KA"]["p50_ms"] <= mh["W"]["p50_ms"]})
    floor = (fl.get("microhttp", {}).get("W") or {}).get("floor_kb")
    if floor:
        out.append({"target": "memory floor (W) <= 40 KB", "measured": "%d KB" % floor, "met": floor <= 40})
    for wl in WORKLOADS:
        ratio = floor_ratio(res, wl)
        if ratio is not None:
            out.append({"target": "floor %s <= 0.7x Microdot's" % wl, "met": ratio <= 0.7,
                        "measured": "%s vs %s (%.2fx)" % (floor_text(fl["microhttp"][wl]),
                                                          floor_text(fl["microdot"][wl]), ratio)})
    core = sum(res["sizes"]["microhttp"].get(m, 0) for m in CORE)
    out.append({"target": "core .mpy <= 10 KB", "measured": "%d B" % core, "met": core <= 10 * 1024})
    a, b = imp.get("microhttp", {}).get("import_bytes"), imp.get("microdot", {}).get("import_bytes")
    if a and b:
        # The issue asks for "well below"; a quarter less is what this check calls well below.
        out.append({"target": "import heap well below Microdot (<= 75%)",
                    "measured": "%s vs %s (%d%%)" % (kb(a), kb(b), round(100 * a / b)), "met": a <= 0.75 * b})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke mode: small counts, no floor search")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset of %s" % (SERVERS,))
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--heap", type=int, default=128, help="heap in KB for the throughput runs")
    ap.add_argument("--rounds", type=int, default=5, help="throughput rounds (median reported)")
    ap.add_argument("--no-floor", action="store_true", help="skip the memory-floor search")
    ap.add_argument("--floor-servers", default=",".join(SERVERS),
                    help="the servers whose floors are searched (default: all; microhttp@REV with microhttp)")
    ap.add_argument("--baseline", metavar="REV",
                    help="also run microhttp as committed at git revision REV (server microhttp@REV): "
                         "before and after a change in one run")
    ap.add_argument("--floor-requests", type=int, default=2000,
                    help="requests per run of the floor search (long enough for a steady req/s)")
    ap.add_argument("--markdown", metavar="FILE", help="write the figures as Markdown tables (docs/benchmarks.md)")
    ap.add_argument("--build-dir", metavar="DIR", help="where to compile the .mpy files (default build/bench)")
    ap.add_argument("--form", choices=("mpy", "romfs"), default="mpy",
                    help="the modules as .mpy files, loaded into the heap (default), or in a ROMFS image "
                         "whose bytecode runs in place (every server alike)")
    ap.add_argument("--bits", type=int, choices=(64, 32), default=64,
                    help="the unix port's 64-bit build (default; the issue's targets are set there) or its "
                         "32-bit build (a board's word size; built on first use)")
    args = ap.parse_args(argv)
    global BUILD, BITS, FORM
    BITS = args.bits
    FORM = args.form
    if args.build_dir:
        BUILD = Path(args.build_dir).resolve()
    servers = [s for s in args.servers.split(",") if s]
    if args.baseline:
        servers.insert(servers.index("microhttp") + 1 if "microhttp" in servers else 0, "microhttp@" + args.baseline)
    if "microhttp" in servers and not microhttp_available():
        log("microhttp core not found (firmware/lib/microhttp/__init__.py): skipping it")
        servers.remove("microhttp")
    if args.quick:
        args.requests, args.rounds, args.no_floor = 30, 1, True
    mp = subprocess.run([micropython_binary(), "-c", "import sys;print('%d.%d.%d' % sys.implementation.version[:3])"],
                        capture_output=True, text=True).stdout.strip()
    res = {"micropython": mp, "bits": BITS, "clients": args.clients, "requests": args.requests, "heap_kb": args.heap,
           "floor_requests": args.floor_requests,
           "rounds": args.rounds, "servers": servers, "throughput": {}, "floor": {}, "alloc": {}}
    log("compiling apps and frameworks to .mpy in %s" % BUILD)
    res["sizes"] = build(servers)
    res["form"] = FORM
    if FORM == "romfs":
        for directory in sorted({server_dir(name) for name in servers}):
            build_romfs(directory)
    log("import heap")
    res["import"] = import_heap(servers)

    res["started_heap"] = {}
    for s in servers:
        with Server(s, args.heap) as srv:
            res["started_heap"][s] = srv.heap_used
    runs = {}
    for r in range(args.rounds):
        for s in servers:
            for wl in WORKLOADS:
                with Server(s, args.heap) as srv:
                    if not srv.ok:
                        raise SystemExit("%s did not start at %d KB:\n%s" % (s, args.heap, srv.output()))
                    warm_up(srv.port, wl)
                    out = workload(srv.port, wl, args.requests, args.clients)
                log("round %d/%d %-9s %-4s %7.1f req/s  p50 %6.2f ms  failures %d"
                    % (r + 1, args.rounds, s, wl, out["req_per_s"], out["p50_ms"] or 0, out["failures"]))
                runs.setdefault(s, {}).setdefault(wl, []).append(out)
    for s, per in runs.items():
        for wl, outs in per.items():
            outs = sorted(outs, key=lambda o: o["req_per_s"])
            median = dict(outs[len(outs) // 2])
            median["all_req_per_s"] = [o["req_per_s"] for o in outs]
            res["throughput"].setdefault(s, {})[wl] = median

    # Modules a framework loads lazily count too: list what serving W pulled in.
    res["loaded"] = {}
    for s in servers:
        if s == "bare" or "@" in s:
            continue
        with Server(s, args.heap) as srv:
            workload(srv.port, "W", 30, 1)
            conn = Conn(srv.port)
            _, _, body, _ = conn.request(b"GET /_modules HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            conn.close()
        mods = [m.split(".", 1)[1] if "." in m else "__init__" for m in body.decode().split() if m.split(".")[0] == s]
        res["loaded"][s] = {"modules": sorted(mods), "mpy_bytes": sum(res["sizes"][s].get(m, 0) for m in mods)}
    short, long = (2, 6) if args.quick else (10, 60)
    for s in servers:
        log("heap per request: %s" % s)
        a = {}
        if s != "microdot":  # Microdot closes every connection: it has no keep-alive figure
            a["ka_status"] = alloc_per_request(s, True, short, long)
            a["ka_page"] = alloc_per_request(s, True, short, long, b"/")
        a["close_status"] = alloc_per_request(s, False, short, long)
        a["close_page"] = alloc_per_request(s, False, short, long, b"/")
        a["phone_close_status"] = alloc_per_request(s, False, short, long, heads="phone")
        if s != "microdot":
            a["phone_ka_status"] = alloc_per_request(s, True, short, long, heads="phone")
        res["alloc"][s] = a

    if not args.no_floor:
        wanted = args.floor_servers.split(",")
        floor_servers = [s for s in servers if s in wanted or ("@" in s and "microhttp" in wanted)]
        for s in floor_servers:
            for wl in WORKLOADS:
                log("memory floor: %s %s" % (s, wl))
                res["floor"].setdefault(s, {})[wl] = memory_floor(s, wl, args.floor_requests, args.clients,
                                                                  args.heap)

    res["targets"] = targets(res)
    print(report(res))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1))
        log("wrote " + args.json)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(markdown(res))
        log("wrote " + args.markdown)
    return res


if __name__ == "__main__":
    main()
