"""The virtual board's supervisor (CPython): a board's "USB serial port" and "power button".

It owns one firmware process at a time (tools/vboard/simboot.py on the MicroPython unix port,
cwd = the flash directory, -X heapsize = the target's heap, the ROMFS partition's file in
MICROHTTP_ROMFS: see ROMFS_BYTES) and serves an mpremote-compatible
REPL on 127.0.0.1:<repl port>, speaking the board side of the raw REPL protocol
(MicroPython's shared/runtime/pyexec.c; the client side is mpremote's transport_serial.py):

  friendly REPL   line input echoed; Enter runs the line ("single" mode, values echoed);
                  Ctrl-A -> raw REPL; Ctrl-B -> banner; Ctrl-C -> fresh prompt;
                  Ctrl-D on an empty line -> soft reset: boot.py, then main.py
  raw REPL        "raw REPL; CTRL-B to exit\\r\\n>"; code bytes until Ctrl-D, answered "OK",
                  then the code's output, "\\x04", the traceback if any, "\\x04", ">";
                  Ctrl-D on an empty buffer -> soft reset that runs boot.py only and stays in
                  the raw REPL (pyexec runs main.py only in friendly mode); Ctrl-B -> friendly;
                  Ctrl-C clears the buffer; Ctrl-E "A" Ctrl-A (raw-paste request) -> "R\\x00",
                  i.e. "understood, not supported", so clients fall back to plain raw mode
  while firmware  Ctrl-C is SIGINT to the process: KeyboardInterrupt in main.py or in the
  or code runs    running chunk, as on a board; other bytes wait, like a UART's input buffer,
                  until the interpreter is back at its prompt. During start-up (simboot's
                  set-up and boot.py) a Ctrl-C is held, and main.py is then not run, as if
                  it had been interrupted at its first line

A soft reset replaces the process (a fresh interpreter and heap); machine.reset() in the
firmware ends the process with simboot.EXIT_HARD_RESET and the supervisor boots a new one
(boot.py + main.py). Output while no client is connected is dropped, as a USB CDC port drops
it, but always copied to the log.
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SIMBOOT = HERE / "simboot.py"
CPYTHON_BOOT = ROOT / "tools" / "sim" / "cpython_boot.py"

IDLE_MARK = b"\x00VBOARD:IDLE\x00"  # repldriver: at the prompt, waiting for input
MAIN_MARK = b"\x00VBOARD:MAIN\x00"  # simboot: start-up is over; run main.py? (see _on_main)
EXIT_HARD_RESET = 3
EXIT_SOFT_RESET = 4
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"

CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E = 1, 2, 3, 4, 5
CTRL_C_RETRY_S = 0.5  # a Ctrl-C not answered by a prompt within this is signalled again

# GC heap available to Python on each target, in bytes:
#   esp32  ~111.9 KB after the heap's first growth on an ESP32 without PSRAM (MicroPython PR
#          #13219, ports/esp32/mpconfigport.h); v1.12 measured 110-114 KB (issue #5554).
#          The S3 and C3 get the same figure: no sourced one, and it is the tightest.
#   rp2    the Pico has ~210 KB free at boot on v1.20 (issue #12557).
#   rp2w   Pico W with Wi-Fi up: no authoritative figure. lwIP's own static RAM is ~26.7 KB and
#          a third-party estimate is 150-190 KB, so we take 160 KB, the low side, until the
#          device suite measures one on a real board.
# The unix port is a 64-bit build and these chips are 32-bit: every pointer, small int and object
# header takes twice the bytes, and the GC allocates in blocks of 4 words (16 bytes on the
# boards, 32 here; py/mpconfig.h MICROPY_BYTES_PER_GC_BLOCK). Bytecode and string data are the
# same size. So the same firmware needs between 1x and 2x the heap here, and we scale the
# figures by HEAP_SCALE = 2, the word-size ratio: the virtual board then runs what fits the
# board's object count, and can be up to 2x lenient for byte-heavy data (buffers). Real figures
# come from the device suite on a real board (tests_device/, results/<board>.json).
# `--heap-scale 1` gives the board's raw byte figure, a strict check. On the unix port's 32-bit
# build (`--bits 32`: the boards' word size, 16-byte GC blocks) the figure is taken as it is.
HEAP_SCALE = 2.0

# The simulation's code (machine, network, the control channel, the REPL driver, simboot) is
# frozen into the interpreter, as machine and network are in a board's ROM; what it allocates
# (its objects, the control thread's buffers) gets this much heap on top, and simboot holds a
# ballast that takes back what it did not use, so the firmware finds the target's figure free,
# in one piece, when boot.py starts.
SIM_HEAP_OVERHEAD = 192 * 1024
HEAP_BYTES = {"esp32": 112 * 1024, "esp32s3": 112 * 1024, "esp32c3": 112 * 1024,
              "rp2": 210 * 1024, "rp2w": 160 * 1024}
DEFAULT_TARGET = "esp32"

# The ROMFS partition per target, in bytes (0: none, as on stock firmware). The interpreter maps
# it from a file beside the flash directory (tools/unix_port/microhttp/vfs_rom_file.c), outside
# the GC heap as flash is, and mounts it at /rom when it holds an image.
#   esp32*  0x20000, the "romfs" partition of ports/esp32/partitions-4MiB-romfs.csv (MicroPython
#           1.25), the partition table of an ESP32 build with ROMFS.
#   rp2*    128 KB. Stock rp2 firmware has none: MICROPY_HW_ROMFS_BYTES defaults to 0
#           (ports/rp2/mpconfigport.h) and a board build that wants one sets it, in whole 4 KB
#           sectors (ports/rp2/rp2_flash.c). No board of 1.25 sets it, so we take the ESP32's
#           figure: an image that fits one target fits the other.
ROMFS_BYTES = {"esp32": 0x20000, "esp32s3": 0x20000, "esp32c3": 0x20000,
               "rp2": 128 * 1024, "rp2w": 128 * 1024}


def target_for(board):
    """The simulated port (machine.sim.configure) for a board file: its chip, and for RP2
    boards whether it has the CYW43 radio (a "_w" board id). The virtual board is an ESP32,
    the tightest heap."""
    chip = (board or {}).get("chip", "")
    if chip.startswith("esp32"):
        return chip if chip in HEAP_BYTES else "esp32"
    if chip.startswith("rp2"):
        return "rp2w" if (board or {}).get("id", "").endswith("_w") else "rp2"
    return DEFAULT_TARGET


def interrupt_main_thread(proc):
    """SIGINT to the interpreter's main thread only (Ctrl-C on a board's UART).

    A process-directed SIGINT may land on the control channel's thread; the unix port then
    loses the KeyboardInterrupt or crashes (seen: SIGSEGV about once in 150 under load). tgkill
    with tid = pid targets the main thread, where main.py and the REPL run."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if hasattr(libc, "tgkill") and libc.tgkill(proc.pid, proc.pid, signal.SIGINT) == 0:
            return
    except OSError:
        pass
    proc.send_signal(signal.SIGINT)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port, host="127.0.0.1"):
    """Whether the board's listeners can bind ``port``. The probe sets SO_REUSEADDR as they all
    do (the REPL here, the control channel, microhttp's server), so connections of a previous
    run still in TIME-WAIT (RFC 9293 section 3.6.1) do not count: only another listener does."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def micropython_binary(bits=64, firmware=False):
    """The virtual board's interpreter (tools/provision_micropython.py vboard_interpreter): the
    unix port, 64- or 32-bit, with the simulation frozen in, as a board has machine and network
    in ROM; with ``firmware``, the firmware frozen in too. Built on first use, and again when
    those sources change."""
    sys.path.insert(0, str(ROOT / "tools"))
    import provision_micropython

    return provision_micropython.vboard_interpreter(bits, firmware)


def load_board(board_id):
    path = ROOT / "boards" / (board_id + ".json")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def heap_for(target, scale=None, bits=64):
    """The target's heap on the unix port: scaled by HEAP_SCALE on the 64-bit build (unless
    ``scale`` says otherwise), as it is on the 32-bit build."""
    if scale is None:
        scale = HEAP_SCALE if bits == 64 else 1
    return int(HEAP_BYTES.get(target, HEAP_BYTES[DEFAULT_TARGET]) * scale)


def romfs_image_for(flash):
    """The ROMFS partition's file: beside the flash directory, not in it (another partition,
    which the filesystem's statvfs does not count), so it survives resets as the flash does."""
    flash = Path(flash).resolve()
    return flash.with_name(flash.name + ".romfs")


def read_http_port(flash):
    try:
        return int(json.loads((Path(flash) / "config.json").read_text()).get("http_port") or 0) or None
    except (OSError, ValueError, AttributeError):
        return None


class Supervisor:
    def __init__(self, flash, board="virtual", target=None, heap=None, repl_port=0, control_port=0,
                 runtime="micropython", log=None, max_restarts=5, flash_size=0, wifi=(), bits=64,
                 romfs_size=None, frozen=False):
        self.flash = Path(flash).resolve()
        self.flash.mkdir(parents=True, exist_ok=True)
        self.board_id = board
        board_data = load_board(board) or {}
        self.target = target or target_for(board_data)
        self.bits = bits  # the unix port's build: 64 (like this machine) or 32 (like the boards)
        # frozen: the build with the firmware frozen in (firmware/manifest.py), as a board whose
        # MicroPython was built with it; its flash then needs no code (tools/deploy.py sees that)
        self.frozen = frozen
        self.heap = heap or heap_for(self.target, bits=bits)
        self.repl_port = repl_port or free_port()
        self.control_port = control_port or free_port()
        self.runtime = runtime
        self.log = log if log is not None else sys.stdout.buffer
        self.max_restarts = max_restarts
        self.flash_size = flash_size  # 0: the target's partition (tools/vboard/control.py)
        # None: the target's ROMFS partition (ROMFS_BYTES); 0: none
        self.romfs_size = ROMFS_BYTES.get(self.target, 0) if romfs_size is None else romfs_size
        self.romfs_image = romfs_image_for(self.flash)
        self.wifi = list(wifi)  # ["ssid=password", ...] in range of the simulated radio
        self.version_banner = b"MicroPython (virtual board)"

        self._lock = threading.RLock()
        self._proc = None
        self._generation = 0
        self._proc_state = "off"   # off | starting | running | idle | exec
        self._held_ctrl_c = False  # a Ctrl-C that came while starting (see _on_client_bytes)
        self._ctrl_c_sent = []     # when the Ctrl-Cs not yet answered by a prompt were signalled
        self._after = "boot"       # what the next idle mark ends: boot | exec | line
        self._mode = "friendly"    # friendly | raw
        self._pending = bytearray()  # client bytes waiting for the interpreter's prompt
        self._raw_buf = bytearray()
        self._line = bytearray()
        self._paste = 0
        self._client = None
        self._out_tail = b""
        self._crashes = []
        self._stopping = False
        self._listener = None
        self.boots = 0

    # ---------------------------------------------------------------- the firmware process
    def command(self, run_main=True):
        args = ["--board", self.board_id, "--port", self.target, "--control-port", str(self.control_port), "--repl"]
        if not run_main:
            args.append("--no-main")
        if self.flash_size:
            args += ["--flash-size", str(self.flash_size)]
        for net in self.wifi:
            args += ["--wifi", net]
        if self.runtime == "cpython":
            return [sys.executable, "-u", str(CPYTHON_BOOT), str(SIMBOOT)] + args
        args += ["--free", str(self.heap)]
        # simboot and the simulation are frozen into the interpreter (micropython_binary). Run by
        # -c, not -m: the unix port turns SIGINT into KeyboardInterrupt (a Ctrl-C) only for code
        # it runs itself (-c, a script), and -m leaves the signal's default, which kills it.
        return [self.interpreter(), "-X", "heapsize=%d" % (self.heap + SIM_HEAP_OVERHEAD), "-c", "import simboot"] + args

    def _env(self):
        env = dict(os.environ)
        # Only the frozen modules: asyncio, the simulation and simboot (and the firmware with
        # --frozen) are in the interpreter; everything else comes from the board's flash.
        env["MICROPYPATH"] = ".frozen"
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("MICROHTTP_ROMFS", None)
        env.pop("MICROHTTP_ROMFS_BYTES", None)
        if self.romfs_size:
            env["MICROHTTP_ROMFS"] = str(self.romfs_image)
            env["MICROHTTP_ROMFS_BYTES"] = str(self.romfs_size)
        return env

    def _boot(self, run_main):
        """Start a fresh firmware process (call with the lock held)."""
        self._kill_current()
        self._generation += 1
        gen = self._generation
        self.boots += 1
        self._proc = subprocess.Popen(
            self.command(run_main), cwd=str(self.flash), env=self._env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0,
        )
        self._proc_state = "starting"
        self._held_ctrl_c = False
        self._ctrl_c_sent = []
        self._after = "boot"
        self._out_tail = b""
        threading.Thread(target=self._pump_output, args=(self._proc, gen), daemon=True).start()

    def _kill_current(self):
        proc = self._proc
        self._proc = None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _pump_output(self, proc, gen):
        while True:
            try:
                data = os.read(proc.stdout.fileno(), 4096)
            except (OSError, ValueError):
                data = b""
            if not data:
                break
            with self._lock:
                if gen != self._generation:
                    return
                self._on_output(data)
        code = proc.wait()
        with self._lock:
            if gen != self._generation or self._stopping:
                return
            self._on_exit(code)

    def _on_exit(self, code):
        if code in (EXIT_HARD_RESET, EXIT_SOFT_RESET):
            # machine.reset() / machine.soft_reset(): boot.py and main.py run again.
            self._mode = "friendly"
            self._boot(run_main=True)
            return
        now = time.monotonic()
        self._crashes = [t for t in self._crashes if now - t < 10] + [now]
        # A Ctrl-C that ended the process: the unix port raises KeyboardInterrupt from the
        # signal handler, a longjmp out of whatever C code runs (MICROPY_ASYNC_KBD_INTR), and
        # out of the GC it leaves the heap locked, so the next allocation fails and simboot
        # with it. The client asked for the prompt, which a board would have given: the board
        # comes back without main.py.
        run_main = not self._ctrl_c_sent
        self._emit(b"\r\n[vboard] firmware process exited with code %d\r\n" % code)
        if len(self._crashes) > self.max_restarts:
            self._emit(b"[vboard] too many exits in 10 s; the board stays off until a reset\r\n")
            self._proc_state = "off"
            return
        self._mode = "friendly"
        self._boot(run_main=run_main)

    def _on_output(self, data):
        data = self._out_tail + data
        self._out_tail = b""
        while data:
            i = data.find(b"\x00")
            if i < 0:
                self._emit(data)
                return
            self._emit(data[:i])
            rest = data[i:]
            for mark, seen in ((IDLE_MARK, self._on_idle), (MAIN_MARK, self._on_main)):
                if rest.startswith(mark):
                    data = rest[len(mark):]
                    seen()
                    break
                if mark.startswith(rest):
                    self._out_tail = rest  # a mark split across two reads
                    return
            else:
                self._emit(rest[:1])
                data = rest[1:]

    def _emit(self, data):
        if not data:
            return
        # A board's stdout turns "\n" into "\r\n" (mp_hal_stdout_tx_strn_cooked).
        cooked = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self._send(cooked)
        if self._proc_state not in ("starting", "running"):
            return  # the log is the firmware's own output, not the answers to REPL commands
        try:
            self.log.write(data)
            self.log.flush()
        except (OSError, ValueError):
            pass

    def _send(self, data):
        client = self._client
        if client is None:
            return
        try:
            client.sendall(data)
        except OSError:
            self._client = None

    def _to_process(self, kind, code):
        self._stdin(b"%s %d\n" % (kind, len(code)) + bytes(code))

    def _stdin(self, data):
        proc = self._proc
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
        except (OSError, ValueError, AttributeError):
            pass

    def _on_main(self):
        # simboot waits for the answer (simboot.main_wanted): after a Ctrl-C during start-up,
        # main.py is skipped, as a board's main.py would stop at its first line.
        if self._held_ctrl_c:
            self._held_ctrl_c = False
            self._stdin(b"skip\n")
        else:
            self._proc_state = "running"
            self._stdin(b"main\n")

    def _on_idle(self):
        after = self._after
        self._proc_state = "idle"
        self._held_ctrl_c = False  # at the prompt a Ctrl-C has nothing left to stop
        self._ctrl_c_sent = []
        if after == "boot":
            self._send(b"\r\n" + RAW_BANNER if self._mode == "raw" else self._friendly_banner())
        elif after == "exec":
            self._send(b">")
        else:
            self._send(b">>> ")
        self._drain_pending()

    def _friendly_banner(self):
        return self.version_banner + b"\r\nType \"help()\" for more information.\r\n>>> "

    def _interrupt(self):
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._ctrl_c_sent.append(time.monotonic())
            interrupt_main_thread(proc)

    def _interrupt_again(self):
        # Called every CTRL_C_RETRY_S while a client is connected. The unix port can lose a
        # KeyboardInterrupt that a board would not: it raises it from the signal handler,
        # wherever the signal lands (a board raises it between bytecodes), and inside a C
        # catch-all (the import machinery's stat: any exception means "no such file") it is
        # swallowed; the firmware runs on with the client's Ctrl-A waiting behind it. So a
        # Ctrl-C that no prompt answered within CTRL_C_RETRY_S is signalled again, twice at most.
        sent = self._ctrl_c_sent
        if (sent and len(sent) <= 2 and self._proc_state in ("running", "exec")
                and time.monotonic() - sent[-1] >= CTRL_C_RETRY_S):
            self._interrupt()

    # ---------------------------------------------------------------- the REPL endpoint
    def _on_client_bytes(self, data):
        for b in data:
            if b == CTRL_C and self._proc_state in ("starting", "running", "exec"):
                self._pending.clear()  # a Ctrl-C also discards typed-ahead input
                if self._proc_state == "starting":
                    # The process is still setting up (simboot's imports and mounts, boot.py):
                    # a KeyboardInterrupt there would end it, and the board would come back
                    # running main.py with the client's Ctrl-A waiting behind it for good
                    # (mpremote connecting as the board boots: "could not enter raw repl").
                    # Held: main.py is then skipped (_on_main); dropped at the prompt.
                    self._held_ctrl_c = True
                else:
                    self._interrupt()
                continue
            self._pending.append(b)
        self._drain_pending()

    def _drain_pending(self):
        while self._pending and self._proc_state == "idle":
            b = self._pending.pop(0)
            if self._mode == "raw":
                self._raw_byte(b)
            else:
                self._friendly_byte(b)

    def _soft_reset(self, run_main):
        self._pending.clear()
        self._raw_buf.clear()
        self._line.clear()
        self._send(b"MPY: soft reboot\r\n")
        self._boot(run_main)

    def _raw_byte(self, b):
        if self._paste:
            expected = b"A\x01"[self._paste - 1]
            if b == expected and self._paste == 2:
                self._paste = 0
                self._send(b"R\x00")
                return
            if b == expected:
                self._paste = 2
                return
            self._paste = 0
        if b == CTRL_A:
            self._raw_buf.clear()
            self._send(b"\r\n" + RAW_BANNER)
        elif b == CTRL_B:
            self._raw_buf.clear()
            self._mode = "friendly"
            self._send(b"\r\n" + self._friendly_banner())
        elif b == CTRL_C:
            self._raw_buf.clear()
        elif b == CTRL_E and not self._raw_buf:
            self._paste = 1
        elif b == CTRL_D:
            if not self._raw_buf:
                self._send(b"OK\r\n")
                self._soft_reset(run_main=False)
                return
            self._send(b"OK")
            code = bytes(self._raw_buf)
            self._raw_buf.clear()
            self._proc_state = "exec"
            self._after = "exec"
            self._to_process(b"E", code)
        else:
            self._raw_buf.append(b)

    def _friendly_byte(self, b):
        if b == CTRL_A:
            self._line.clear()
            self._mode = "raw"
            self._send(b"\r\n" + RAW_BANNER)
        elif b == CTRL_B:
            self._line.clear()
            self._send(b"\r\n" + self._friendly_banner())
        elif b == CTRL_C:
            self._line.clear()
            self._send(b"\r\n>>> ")
        elif b == CTRL_D:
            if not self._line:
                self._send(b"\r\n")
                self._soft_reset(run_main=True)
        elif b in (8, 127):
            if self._line:
                self._line.pop()
                self._send(b"\x08 \x08")
        elif b == 13:
            self._send(b"\r\n")
            line = bytes(self._line)
            self._line.clear()
            if line.strip():
                self._proc_state = "exec"
                self._after = "line"
                self._to_process(b"S", line + b"\n")
            else:
                self._send(b">>> ")
        elif b == 10 or b < 32 or b == 0x1B:
            pass  # LF after CR, other control keys and escape sequences: not line editing
        else:
            self._line.append(b)
            self._send(bytes([b]))

    def _serve_client(self, conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._client = conn
        try:
            while True:
                # select, not a socket timeout: the output thread's sendall() must block, not
                # time out, while the client is slow to read.
                if not select.select([conn], [], [], CTRL_C_RETRY_S)[0]:
                    with self._lock:
                        self._interrupt_again()
                    continue
                data = conn.recv(4096)
                if not data:
                    break
                with self._lock:
                    self._on_client_bytes(data)
        except OSError:
            pass
        finally:
            with self._lock:
                if self._client is conn:
                    self._client = None
            conn.close()

    def _accept_loop(self):
        # The listener has a timeout so that this loop sees stop(): a thread blocked in
        # accept() on a socket that another thread closed can go on accepting on the same fd
        # number, by then another supervisor's listener (seen in tests, as stolen connections).
        while not self._stopping:
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self._stopping:
                conn.close()
                return
            conn.settimeout(None)
            with self._lock:
                busy = self._client is not None
            if busy:
                # One client at a time, like a serial port opened exclusively.
                try:
                    conn.sendall(b"[vboard] the REPL is in use by another client\r\n")
                except OSError:
                    pass
                conn.close()
                continue
            threading.Thread(target=self._serve_client, args=(conn,), daemon=True).start()

    # ---------------------------------------------------------------- lifecycle
    def interpreter(self):
        return micropython_binary(self.bits, self.frozen)

    def _read_version(self):
        if self.runtime != "micropython":
            return
        out = subprocess.run(
            [self.interpreter(), "-c", "import sys; print('%d.%d.%d' % sys.implementation.version[:3])"],
            capture_output=True, text=True, timeout=20,
        ).stdout.split()
        if out:
            self.version_banner = ("MicroPython v%s; virtual board %s (%s) on the unix port (%d-bit)"
                                   % (out[0], self.board_id, self.target, self.bits)).encode()

    def start(self, run_main=True):
        """Power the board on: the REPL endpoint, then boot.py and, unless ``run_main`` is
        false, main.py (false: the board waits at its prompt, as after a Ctrl-C at boot)."""
        self._read_version()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.repl_port))
        listener.listen(2)
        listener.settimeout(0.2)
        self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._accept_thread.start()
        with self._lock:
            self._boot(run_main=run_main)
        return self

    def reset(self):
        """Hard reset from outside (the board's EN button): boot.py and main.py run again."""
        with self._lock:
            self._mode = "friendly"
            self._pending.clear()
            self._boot(run_main=True)

    def stop(self):
        with self._lock:
            self._stopping = True
            self._generation += 1
            self._kill_current()
            if self._client is not None:
                try:
                    self._client.close()
                except OSError:
                    pass
                self._client = None
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._accept_thread.join(2)
            self._listener.close()

    @property
    def url(self):
        return "socket://127.0.0.1:%d" % self.repl_port

    def http_url(self):
        port = read_http_port(self.flash)
        return "http://127.0.0.1:%d/" % port if port else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
