# The virtual board's control channel: how tests and people press buttons and read pins.
#
# Runs inside the firmware process (MicroPython unix port or CPython), in one `_thread` thread
# so the firmware's asyncio loop is untouched: a blocking select.poll loop over a listening
# socket on 127.0.0.1 and up to MAX_CLIENTS connections. The protocol is one JSON object per
# line each way (request -> reply, in order):
#
#   {"op": "ping"}                                   -> {"ok": true, "board": ..., "port": ...}
#   {"op": "devices"}                                -> {"ok": true, "devices": {name: {...}}}
#   {"op": "press",   "name": "button" | "pin": 4, "bounce": 3, "bounce_us": 300}
#   {"op": "release", ...same target...}
#   {"op": "click",   ...same target..., "ms": 100}  press, hold ms, release
#   {"op": "set",     "pin": 4, "level": 0}          drive an input (a wire from outside)
#   {"op": "level",   "pin": 2}                      -> {"ok": true, "level": 0|1}
#   {"op": "pwm",     "pin": 2}                      -> {"ok": true, "pwm": {...} | null}
#   {"op": "snapshot"}                               -> {"ok": true, "pins": {...}}
#   {"op": "mem"}                                    -> {"ok": true, "free": .., "alloc": ..}
#   {"op": "mem", "largest": true}                   -> also "largest": the largest block that
#                                                       can be allocated now (bytes)
#   {"op": "modules"}                                -> {"ok": true, "modules": [names in sys.modules]}
#   {"op": "heapmap"}                                -> {"ok": true}: prints the heap's block map
#                                                       (micropython.mem_info(1)) to the board's
#                                                       console, after a collection
#
# Errors reply {"ok": false, "error": "..."}. "bounce" synthesizes contact chatter: the level
# springs back that many times, flips bounce_us apart, before it settles (real contacts bounce
# for well under the 20-50 ms debounce windows of the button drivers ours is modelled on). A
# button "press" drives the level the board file says is active (active-low buttons read 0
# when pressed).
import _thread
import gc
import json
import select
import socket

try:
    from time import sleep_ms, sleep_us
except ImportError:  # CPython: use the shim's versions
    import time as _t

    def sleep_ms(ms):
        _t.sleep(ms / 1000)

    def sleep_us(us):
        _t.sleep(us / 1000000)


MAX_CLIENTS = 4
MAX_LINE = 1024  # bytes: a request longer than this is refused, not buffered forever

# Filesystem partition sizes for statvfs (bytes), per simulated port. ESP32 generic (4 MB
# flash): the "vfs" partition is 0x200000 in ports/esp32/partitions-4MiB.csv (the S3 and C3
# boards here have 4 MB or more and the same partition); Pico W: MICROPY_HW_FLASH_STORAGE_BYTES
# is 848 KB in ports/rp2/boards/RPI_PICO_W/mpconfigboard.h, the Pico's 1408 KB.
FLASH_FS_BYTES = {"esp32": 0x200000, "esp32s3": 0x200000, "esp32c3": 0x200000, "rp2": 1408 * 1024,
                  "rp2w": 848 * 1024, "unix": 0x200000}

_state = {"sim": None, "board": None, "board_id": None, "devices": {}, "port": None, "ballast": 0}


def _devices_from_board(board):
    """Name -> {"pin": id, "active": level, "kind": ...} for every device the board declares.
    Accepts a list of device dicts or a dict keyed by name (boards/*.json is data)."""
    out = {}
    if not board:
        return out
    raw = board.get("devices", ())
    items = raw.items() if isinstance(raw, dict) else [(d.get("name") or d.get("id"), d) for d in raw]
    for name, d in items:
        if not name or not isinstance(d, dict):
            continue
        pin = d.get("pin")
        if pin is None:
            pins = d.get("pins")
            if isinstance(pins, (list, tuple)) and pins:
                pin = pins[0]
        active_low = d.get("active_low")
        if active_low is None:
            # boards/*.json: a button with a pull-up is wired to GND, so it reads 0 when pressed
            active_low = str(d.get("active", "")).lower() in ("low", "0") or d.get("pull") == "up"
        out[name] = {"pin": pin, "active": 0 if active_low else 1, "kind": d.get("kind") or d.get("type")}
    return out


def _target(req):
    """(pin, active level) from {"name": ...} or {"pin": ...}."""
    name = req.get("name")
    if name is not None:
        dev = _state["devices"].get(name)
        if dev is None:
            raise ValueError("no device named %r (known: %s)" % (name, ", ".join(sorted(_state["devices"]))))
        return dev["pin"], dev["active"]
    if "pin" not in req:
        raise ValueError("give a device 'name' or a 'pin'")
    pin = req["pin"]
    active = req.get("active")
    if active is None:
        active = 1
        for dev in _state["devices"].values():
            if dev["pin"] == pin:
                active = dev["active"]
    return pin, active


def _drive(sim, pin, level, bounce, bounce_us):
    # Contact chatter: the level changes, then springs back `bounce` times before settling,
    # bounce_us between flips. A press with bounce=2 reads 0,1,0,1,0 on an active-low input.
    sim.set_input(pin, level)
    for _ in range(bounce):
        sleep_us(bounce_us)
        sim.set_input(pin, 1 - level)
        sleep_us(bounce_us)
        sim.set_input(pin, level)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def largest_free_block(limit):
    """The largest block the heap can give now, in bytes: how fragmented the free heap is.

    MicroPython has no call that returns it (micropython.mem_info() prints "max free sz" to
    stdout), so this searches for it: a bytearray's data is one block of its size. Each try
    runs in a call of its own and is collected before the next: the GC is conservative, and a
    reference left in this frame would keep the block allocated. Meant for an idle board:
    while a try holds a block, the firmware cannot have it."""
    low, high = 0, limit
    while low < high:
        size = (low + high + 1) // 2
        if _can_allocate(size):
            low = size
        else:
            high = size - 1
        gc.collect()
    return low


def _can_allocate(size):
    try:
        bytearray(size)
    except MemoryError:
        return False
    return True


def handle(req):
    op = req.get("op")
    sim = _state["sim"]
    if op == "ping":
        return {"ok": True, "board": _state["board_id"], "port": _state["port"]}
    if op == "devices":
        return {"ok": True, "devices": _state["devices"]}
    if op == "mem":
        gc.collect()
        # alloc leaves out simboot's ballast (heap that stands for the board's ROM'd modules)
        reply = {"ok": True, "free": gc.mem_free(), "alloc": gc.mem_alloc() - _state["ballast"]}
        if req.get("largest"):
            reply["largest"] = largest_free_block(reply["free"])
        return reply
    if op == "heapmap":
        import micropython

        gc.collect()
        micropython.mem_info(1)
        return {"ok": True}
    if op == "modules":
        import sys

        return {"ok": True, "modules": sorted(sys.modules)}
    if sim is None:
        raise ValueError("this runtime has no machine.sim back-plane")
    bounce = int(req.get("bounce", 0))
    bounce_us = int(req.get("bounce_us", 300))
    if bounce < 0 or bounce > 100 or bounce_us < 0 or bounce_us > 100000:
        raise ValueError("bounce must be 0..100 flips and bounce_us 0..100000")
    if op in ("press", "release", "click"):
        pin, active = _target(req)
        if op in ("press", "click"):
            _drive(sim, pin, active, bounce, bounce_us)
        if op == "click":
            ms = int(req.get("ms", 100))
            if ms < 0 or ms > 60000:
                raise ValueError("ms must be 0..60000")
            sleep_ms(ms)
        if op in ("release", "click"):
            _drive(sim, pin, 1 - active, bounce, bounce_us)
        return {"ok": True, "pin": pin, "level": sim.level(pin)}
    if op == "set":
        level = int(req["level"])
        if level not in (0, 1):
            raise ValueError("level must be 0 or 1")
        _drive(sim, req["pin"], level, bounce, bounce_us)
        return {"ok": True}
    if op == "level":
        pin = _target(req)[0]
        return {"ok": True, "pin": pin, "level": sim.level(pin)}
    if op == "pwm":
        pin = _target(req)[0]
        return {"ok": True, "pin": pin, "pwm": _jsonable(sim.pwm_state(pin))}
    if op == "snapshot":
        return {"ok": True, "pins": _jsonable(sim.snapshot())}
    raise ValueError("unknown op %r" % (op,))


def _reply(conn, obj):
    data = (json.dumps(obj) + "\n").encode()
    view = memoryview(data)
    while view:
        n = conn.send(view)
        view = view[n:]


def _serve(listener):
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    buffers = {}  # fileno -> [conn, bytearray]
    lfd = listener.fileno()
    while True:
        for ev in poller.poll(-1):
            # MicroPython's poll yields the registered object, CPython's the file descriptor.
            fd = ev[0] if isinstance(ev[0], int) else ev[0].fileno()
            if fd == lfd:
                conn, _ = listener.accept()
                if len(buffers) >= MAX_CLIENTS:
                    conn.close()
                    continue
                buffers[conn.fileno()] = [conn, bytearray()]
                poller.register(conn, select.POLLIN)
                continue
            entry = buffers.get(fd)
            if entry is None:
                continue
            conn, buf = entry
            try:
                chunk = conn.recv(256)
            except OSError:
                chunk = b""
            if not chunk:
                poller.unregister(conn)
                del buffers[fd]
                conn.close()
                continue
            buf.extend(chunk)
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > MAX_LINE:
                        buf[:] = b""
                        _reply(conn, {"ok": False, "error": "request longer than %d bytes" % MAX_LINE})
                    break
                line = bytes(buf[:nl])
                buf[:] = buf[nl + 1:]
                if not line.strip():
                    continue
                try:
                    reply = handle(json.loads(line))
                except Exception as exc:
                    reply = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
                try:
                    _reply(conn, reply)
                except OSError:
                    break


def start(port, sim, board, board_id, target=None, host="127.0.0.1"):
    """Bind now (so a bad port fails loudly at boot) and serve from a background thread."""
    _state["sim"] = sim
    _state["board"] = board
    _state["board_id"] = board_id
    _state["port"] = target
    _state["devices"] = _devices_from_board(board)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(socket.getaddrinfo(host, port)[0][-1])
    listener.listen(2)
    _thread.start_new_thread(_serve, (listener,))
    return listener
