"""The virtual board (tools/vboard): real mpremote against its REPL endpoint, real sockets to
its control channel, the real MicroPython unix port behind both."""

import json
import socket
import subprocess
import sys
import time

import paths
import pytest
from fixtures.vboard import Log, make_flash, mpremote

sys.path.insert(0, str(paths.ROOT))

from tools.vboard.client import Client, ControlError  # noqa: E402
from tools.vboard.supervisor import HEAP_SCALE, Supervisor, heap_for  # noqa: E402

CPYTHON_ONLY = True

def test_mpremote_ls_cp_exec_and_soft_reset(board, tmp_path):
    local = tmp_path / "hello.txt"
    local.write_text("hello, board\n")
    r = mpremote(board, "cp", str(local), ":hello.txt", "+", "ls")
    assert r.returncode == 0, r.stderr + r.stdout
    assert (board.flash / "hello.txt").read_text() == "hello, board\n"
    listing = {line.split()[-1]: int(line.split()[0]) for line in r.stdout.splitlines()[2:] if line.strip()}
    assert listing["hello.txt"] == len("hello, board\n")
    assert {"boot.py", "main.py", "boots.txt"} <= set(listing)

    r = mpremote(board, "exec", "print(open('/hello.txt').read().upper())")
    assert r.returncode == 0 and "HELLO, BOARD" in r.stdout, r

    # One session: a global survives between two execs, a soft reset gives a fresh interpreter.
    r = mpremote(board, "exec", "x = 41", "+", "exec", "print(x + 1)", "+", "soft-reset",
                 "+", "exec", "print('x' in globals())")
    assert r.returncode == 0, r
    assert r.stdout.split() == ["42", "False"]


def test_reports_the_real_interpreter(board):
    real = subprocess.run(
        [paths.micropython_binary(), "-c", "import sys; print(sys.implementation.version[:3], sys.implementation._mpy)"],
        capture_output=True, text=True, timeout=20,
    ).stdout.strip()
    r = mpremote(board, "exec", "import sys; print(sys.implementation.version[:3], sys.implementation._mpy)")
    assert r.stdout.strip() == real
    assert int(real.split()[-1]) & 0xFF == 6  # .mpy v6.x (MicroPython 1.25)


def test_exec_error_gives_a_board_traceback_and_exit_1(board):
    r = mpremote(board, "exec", "1/0")
    assert r.returncode == 1
    assert 'File "<stdin>", line 1, in <module>' in r.stdout
    assert "ZeroDivisionError" in r.stdout
    assert "repldriver" not in r.stdout and "simboot" not in r.stdout  # a board has no such frames


def test_flash_is_the_root_filesystem(board):
    r = mpremote(board, "exec", "import os; print(sorted(os.listdir('/'))); print(os.statvfs('/')[:4])")
    lines = r.stdout.splitlines()
    assert eval(lines[0]) == sorted(p.name for p in board.flash.iterdir())
    bsize, frsize, blocks, free = eval(lines[1])
    assert bsize * blocks == 0x200000  # the ESP32's 2 MB "vfs" partition, not the host disk
    assert 0 < free < blocks
    r = mpremote(board, "exec", "open('/etc/hostname')")
    assert r.returncode == 1 and "ENOENT" in r.stdout  # the host's files are out of reach


def test_ctrl_c_stops_main_and_ctrl_d_restarts_it(board):
    with socket.create_connection(("127.0.0.1", board.repl_port), timeout=10) as s:
        s.sendall(b"\x03")
        got = read_until(s, b">>> ")
        assert b"KeyboardInterrupt" in got
        assert b"MicroPython v" in got
        s.sendall(b"6*7\r")
        assert b"42" in read_until(s, b">>> ")
        s.sendall(b"\x04")  # friendly REPL, empty line: soft reset runs boot.py and main.py
        got = read_until(s, b"main running 2")
        assert b"MPY: soft reboot" in got and b"boot.py ran" in got
    assert (board.flash / "boots.txt").read_text() == "2"


def test_a_ctrl_c_while_the_board_starts_gives_the_prompt_without_main(tmp_path):
    # mpremote connecting as the board boots: its Ctrl-C, then Ctrl-A. A KeyboardInterrupt in
    # the start-up must not end the process (it would come back running main.py, with the
    # Ctrl-A waiting behind it: "could not enter raw repl"). Here boot.py is slow, so the
    # Ctrl-C surely comes during start-up.
    log = Log()
    boot = 'import time\ntime.sleep_ms(400)\nprint("boot.py ran")\n'
    with Supervisor(make_flash(tmp_path, boot=boot), board="virtual", log=log) as sup:
        with socket.create_connection(("127.0.0.1", sup.repl_port), timeout=10) as s:
            got = enter_raw_repl_as_mpremote(s)
            assert b"boot.py ran" in got and b"main.py not run" in got
            s.sendall(b"print(6*7)\x04")
            assert read_until(s, b"\x04>") == b"OK42\r\n\x04\x04>"
        assert "main running" not in log.text()
        assert sup.boots == 1  # no crash and restart on the way


def test_a_ctrl_c_whose_interrupt_is_lost_is_signalled_again(tmp_path):
    # The unix port can swallow a KeyboardInterrupt that a board would raise (the signal can
    # land inside a C catch-all, an import's stat); this main.py does the same on purpose.
    main = """\
import time
print("main running")
try:
    while True:
        time.sleep_ms(10)
except KeyboardInterrupt:
    print("first Ctrl-C lost")
while True:
    time.sleep_ms(10)
"""
    log = Log()
    with Supervisor(make_flash(tmp_path, main=main), board="virtual", log=log) as sup:
        log.wait_for("main running")
        with socket.create_connection(("127.0.0.1", sup.repl_port), timeout=10) as s:
            got = enter_raw_repl_as_mpremote(s)
            assert b"first Ctrl-C lost" in got and b"KeyboardInterrupt" in got


def test_a_ctrl_c_that_ends_the_process_brings_the_board_back_without_main(tmp_path):
    # The unix port raises KeyboardInterrupt from the signal handler; landing in the GC (this
    # main.py collects all the time) it leaves the heap locked, and the process ends at its
    # next allocation. The client asked for the prompt: the board comes back with boot.py only.
    main = 'import gc\nprint("main running")\nwhile True:\n    gc.collect()\n'
    log = Log()
    with Supervisor(make_flash(tmp_path, main=main), board="virtual", log=log) as sup:
        log.wait_for("main running")
        with socket.create_connection(("127.0.0.1", sup.repl_port), timeout=10) as s:
            enter_raw_repl_as_mpremote(s)
        assert "firmware process exited with code 1" in log.text()
        assert log.text().count("main running") == 1 and log.text().count("boot.py ran") == 2


def test_raw_repl_declines_raw_paste(board):
    with socket.create_connection(("127.0.0.1", board.repl_port), timeout=10) as s:
        s.sendall(b"\r\x03\r\x01")
        read_until(s, b"raw REPL; CTRL-B to exit\r\n>")
        s.sendall(b"\x05A\x01")
        assert recv_exactly(s, 2) == b"R\x00"
        s.sendall(b"print(6*7)\x04")
        assert read_until(s, b"\x04>") == b"OK42\r\n\x04\x04>"


def test_machine_reset_boots_main_again(board):
    r = mpremote(board, "reset")
    assert r.returncode == 0, r
    board.logbuf.wait_for("main running 2")
    assert (board.flash / "boots.txt").read_text() == "2"


def test_one_client_at_a_time(board):
    with socket.create_connection(("127.0.0.1", board.repl_port), timeout=10) as first:
        first.sendall(b"\x03")
        read_until(first, b">>> ")
        with socket.create_connection(("127.0.0.1", board.repl_port), timeout=10) as second:
            assert b"in use" in read_until(second, b"\r\n")


def test_heap_is_the_targets_figure(board):
    mem = Client(board.control_port).mem()
    target = heap_for("esp32")
    assert target == int(112 * 1024 * HEAP_SCALE)
    # main.py above allocates almost nothing: the firmware sees the target's figure, give or take
    # what boot.py, main.py and the control request took.
    assert target * 0.9 < mem["free"] <= target
    r = mpremote(board, "exec", "b = bytearray(%d)" % (target + 1))
    assert r.returncode == 1 and "MemoryError" in r.stdout


def test_the_32_bit_build_gives_the_board_its_own_heap_figure(tmp_path):
    # --bits 32: the boards' word size, so the heap is the board's figure, unscaled.
    log = Log()
    with Supervisor(make_flash(tmp_path), board="virtual", log=log, bits=32) as sup:
        log.wait_for("main running 1")
        assert sup.heap == heap_for("esp32", bits=32) == 112 * 1024
        mem = Client(sup.control_port).mem()
        assert sup.heap * 0.9 < mem["free"] <= sup.heap
        r = mpremote(sup, "exec", "import sys; print(sys.maxsize)")
        assert r.stdout.split() == [str(2**31 - 1)], r
        r = mpremote(sup, "exec", "b = bytearray(%d)" % (sup.heap + 1))
        assert r.returncode == 1 and "MemoryError" in r.stdout


HOLE_SCRIPT = """\
import gc
import control


def allocate():
    hole = bytearray(20000)  # garbage once this returns: a hole below the block returned
    return bytearray(4096)


spacer = allocate()
gc.collect()
free = gc.mem_free()
print(free, control.largest_free_block(free))
"""


def test_largest_free_block_finds_the_largest_hole_not_the_free_total(tmp_path):
    # Single-threaded on the 32-bit build: a 20000-byte hole below the rest of the free heap.
    script = tmp_path / "hole.py"
    script.write_text(HOLE_SCRIPT)
    proc = subprocess.run([paths.micropython_binary(32), "-X", "heapsize=96k", str(script)],
                          env=dict(paths.micropython_env(), MICROPYPATH=".frozen:" + str(paths.ROOT / "tools" / "vboard")),
                          capture_output=True, text=True, timeout=60)
    free, largest = map(int, proc.stdout.split())
    assert free - 24000 < largest <= free - 20000


def test_the_firmware_finds_its_heap_in_one_piece(tmp_path):
    # The simulation's modules leave holes in the heap below the firmware's region, where a
    # board has ROM: simboot fills them, so the firmware's heap starts contiguous, as on a board.
    log = Log()
    with Supervisor(make_flash(tmp_path), board="virtual", log=log, bits=32) as sup:
        log.wait_for("main running 1")
        with Client(sup.control_port) as client:
            mem = client.mem(largest=True)
            assert mem["free"] * 0.9 < mem["largest"] <= mem["free"]
            modules = client.modules()
            assert "control" in modules and "asyncio" not in modules
            # The block map, for finding what holds the heap: printed on the board's console.
            client.request("heapmap")
        log.wait_for("GC memory layout")


PINS_MAIN = """\
from machine import Pin, PWM
button = Pin(4, Pin.IN, Pin.PULL_UP)
edges = []
button.irq(lambda p: edges.append(p.value()), Pin.IRQ_FALLING)
lamp = PWM(Pin(16), freq=1000, duty_u16=16384)
jumper_out = Pin(19, Pin.OUT, value=1)
jumper_in = Pin(21, Pin.IN)
print("pins ready")
import time
while True:
    time.sleep_ms(10)
"""


@pytest.fixture
def pins_board(tmp_path):
    flash = make_flash(tmp_path, main=PINS_MAIN)
    (flash / "boards").mkdir()
    (flash / "boards" / "virtual.json").write_text((paths.ROOT / "boards" / "virtual.json").read_text())
    log = Log()
    with Supervisor(flash, board="virtual", log=log) as sup:
        log.wait_for("pins ready")
        with Client(sup.control_port) as client:
            yield sup, client


def test_control_channel_buttons_levels_pwm_and_jumpers(pins_board):
    sup, c = pins_board
    assert c.ping()["board"] == "virtual"
    assert c.devices()["button"] == {"pin": 4, "active": 0, "kind": "button"}  # pull-up: active low
    assert c.level("button") == 1
    c.press("button")
    assert c.level(4) == 0
    c.release("button")
    assert c.level(4) == 1
    assert c.pwm("led") == {"freq": 1000, "duty_u16": 16384}
    assert c.pwm(17) is None
    assert c.level(21) == 1  # the board's loopback jumper 19 -> 21 is wired
    snap = c.snapshot()
    assert snap["pins"]["4"]["pull"] == "up" and [19, 21] in snap["connections"]
    with pytest.raises(ControlError, match="no device named 'nope'"):
        c.press("nope")
    with pytest.raises(ControlError, match="level must be 0 or 1"):
        c.set_input(4, 7)


def test_press_with_bounce_gives_the_edges_the_firmware_sees(pins_board):
    sup, c = pins_board
    # Press: 0,1,0,1,0 (3 falls), hold, release: 1,0,1,0,1 (2 falls). Flips 3 ms apart, so
    # the main thread runs each scheduled handler before the next (the queue holds only a few).
    c.press("button", ms=20, bounce=2, bounce_us=3000)
    assert c.snapshot()["dropped_irqs"] == 0
    r = mpremote(sup, "resume", "exec", "print(len(edges))")
    assert r.stdout.strip() == "5", r


def test_cpython_runtime_runs_the_same_flash(tmp_path):
    log = Log()
    with Supervisor(make_flash(tmp_path), board="virtual", runtime="cpython", log=log) as sup:
        log.wait_for("main running 1")
        r = mpremote(sup, "exec", "import sys; print(sys.implementation.name)")
        assert r.stdout.strip() == "cpython"


def enter_raw_repl_as_mpremote(sock):
    """Ctrl-C, then Ctrl-A a moment later (mpremote's enter_raw_repl); what came up to the
    raw REPL's banner."""
    sock.sendall(b"\r\x03")
    time.sleep(0.05)
    sock.sendall(b"\r\x01")
    return read_until(sock, b"raw REPL; CTRL-B to exit\r\n>")


def read_until(sock, marker, timeout=20):
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        if time.monotonic() > deadline:
            raise AssertionError("no %r in %r" % (marker, data))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            raise AssertionError("timed out waiting for %r; got %r" % (marker, data))
        if not chunk:
            raise AssertionError("connection closed before %r; got %r" % (marker, data))
        data += chunk
    return data


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        try:
            data += sock.recv(n - len(data))
        except socket.timeout:
            raise AssertionError("timed out after %r" % data)
    return data


def test_control_protocol_is_one_json_line_each_way(pins_board):
    sup, _ = pins_board
    with socket.create_connection(("127.0.0.1", sup.control_port), timeout=10) as s:
        s.sendall(b'{"op": "level", "pin": 4}\n{"op": "bogus"}\n')
        f = s.makefile("rb")
        assert json.loads(f.readline()) == {"ok": True, "pin": 4, "level": 1}
        assert json.loads(f.readline())["ok"] is False
