# The firmware side of the virtual board: boots a flash directory the way a board boots.
#
# Runs ON the MicroPython unix port, frozen into the interpreter the virtual board runs with
# the simulated machine and network modules (tools/provision_micropython.py vboard_interpreter;
# the supervisor starts it with the flash directory as cwd and -X heapsize=<the target's heap>),
# and on CPython through tools/sim/cpython_boot.py for debugging firmware sources. Usage:
#
#   micropython -X heapsize=N -c "import simboot" --board virtual [--port esp32]
#                 [--control-port 7401] [--free BYTES] [--flash-size BYTES] [--wifi SSID=PASSWORD]...
#                                       [--repl] [--no-main]
#
# Steps, in a board's order:
#   1. import the simulated `machine` and `network` modules (tools/sim, frozen into the
#      interpreter) and configure `machine.sim` for the target port;
#   2. make the flash directory the filesystem root: on MicroPython the host's "/" is unmounted
#      and a VfsPosix of the flash directory is mounted at "/", so open("/x"), os.listdir("/"),
#      os.statvfs("/") and imports see the flash and nothing else, as on a board; sys.path
#      becomes ['', '.frozen', '/lib'] like an ESP32's, or ['', '.frozen', '/rom', '/rom/lib',
#      '/lib'] when the interpreter mounted a ROMFS image at /rom as it started (py/runtime.c's
#      mp_init(), from the partition the supervisor gave it in MICROHTTP_ROMFS);
#   3. put the --wifi networks in range of the simulated radio (network.sim), and wire the
#      board's loopback jumpers (board file "loopbacks") in the simulation, as a user
#      wires them on a bench;
#   4. start the control channel (tools/vboard/control.py) on 127.0.0.1:<control port>;
#      then, with --free, hold a ballast so the firmware finds exactly that much free heap, in
#      one piece: the simulation's code is frozen (in ROM, as a board's machine and network
#      are), but its objects and the control thread's buffers take heap, so the supervisor
#      gives the process more and the ballast takes back whatever the simulation did not use
#      (hold_ballast);
#   5. run boot.py, then main.py (skipped with --no-main: a soft reset from the raw REPL runs
#      boot.py only on a board), in one globals dict that the REPL keeps afterwards, as
#      pyexec does; before main.py, repldriver.MAIN_MARK asks the supervisor whether to run
#      it (not after a Ctrl-C during start-up, see main_wanted);
#   6. with --repl, serve framed code from stdin (tools/vboard/repldriver.py); the supervisor
#      (tools/vboard/supervisor.py) speaks the raw REPL protocol to mpremote in front of it.
#
# machine.reset() raises an exception in the simulation; it ends this process with exit code
# EXIT_HARD_RESET so the supervisor boots a fresh interpreter (a fresh heap), as a reset does.
import os
import sys

try:
    import vfs
except ImportError:  # CPython, or a port built without the vfs module
    vfs = None

EXIT_HARD_RESET = 3
EXIT_SOFT_RESET = 4

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
if _HERE not in sys.path:
    sys.path.append(_HERE)


def parse_args(argv):
    opts = {"board": "virtual", "port": None, "control_port": 0, "repl": False, "main": True,
            "flash_size": 0, "wifi": [], "free": 0}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--repl":
            opts["repl"] = True
        elif a == "--no-main":
            opts["main"] = False
        elif a == "--wifi" and i + 1 < len(argv):
            i += 1
            ssid, _, password = argv[i].partition("=")
            opts["wifi"].append((ssid, password or None))
        elif a in ("--board", "--port", "--control-port", "--flash-size", "--free") and i + 1 < len(argv):
            i += 1
            key = a[2:].replace("-", "_")
            opts[key] = argv[i] if key in ("board", "port") else int(argv[i])
        else:
            raise SystemExit("simboot: unknown argument " + a)
        i += 1
    return opts


def print_exception(exc):
    import repldriver

    repldriver._write(repldriver.format_exception(exc))


def is_reset(exc):
    """machine.reset()/soft_reset()/deepsleep() raise machine.ResetRequested (a SystemExit) in
    the simulation; check for it before treating SystemExit as a plain exit."""
    return "reset" in type(exc).__name__.lower()


def reset_exit_code(exc):
    return EXIT_SOFT_RESET if "soft_reset" in str(exc) else EXIT_HARD_RESET


def preimport_sim(port):
    # The simulated hardware modules live outside the flash; once "/" is the flash they are no
    # longer reachable, so everything the firmware may import from there is imported first.
    # rp2 only on an RP2 target: `import rp2` failing is how code tells the ports apart.
    names = ["machine", "network", "neopixel"]
    if port.startswith("rp2"):
        names.append("rp2")
    for name in names:
        if name == "rp2":
            configure_port(port)  # the rp2 shim checks the simulated port when imported
        try:
            __import__(name)
        except ImportError as exc:
            print("simboot: no simulated %s module (%s): the firmware will miss it" % (name, exc))
    import control  # noqa: F401  (this directory, also outside the flash)
    import repldriver  # noqa: F401


def configure_port(port):
    try:
        import machine

        machine.sim.configure(port=port)
    except (ImportError, AttributeError):
        pass


def load_board_file(board_id):
    import json

    for path in ("boards/" + board_id + ".json", "/boards/" + board_id + ".json"):
        try:
            with open(path) as f:
                return json.load(f)
        except OSError:
            pass
    return None


class FlashVfs:
    """The flash directory as a board's root filesystem, mounted at "/".

    A wrapper around a VfsPosix rather than a subclass: in MicroPython 1.25 a Python subclass
    of VfsPosix inherits the native import fast path, which then reads the instance as a native
    VfsPosix and finds no module at all; a plain object makes the VFS layer call these methods.
    Also, VfsPosix with a root builds both rename() paths in one shared buffer (the second
    overwrites the first: ENOENT), so rename goes through a root-less instance with host paths.
    Paths here are relative to the mount; the os module cannot be used inside (it would come
    back through this VFS)."""

    def __init__(self, root, size_bytes):
        self._root = root.rstrip("/")
        self._v = vfs.VfsPosix(root)
        self._host = vfs.VfsPosix()
        self._size = size_bytes
        # The import machinery calls stat() inside a catch-all (any exception means "no such
        # file": mp_vfs_import_stat, extmod/vfs.c), and the unix port raises a Ctrl-C's
        # KeyboardInterrupt wherever the signal lands: one landing there is swallowed (the
        # import goes on, or fails with "no module named ..."). The native method itself, as
        # an instance attribute, keeps that window as short as a board's C stat(), without a
        # Python frame around it (the supervisor signals a lost Ctrl-C again).
        self.stat = self._v.stat

    def mount(self, readonly, mkfs):
        return self._v.mount(readonly, mkfs)

    def umount(self):
        pass

    def open(self, path, mode):
        return self._v.open(path, mode)

    def chdir(self, path):
        return self._v.chdir(path)

    def getcwd(self):
        return self._v.getcwd()

    def mkdir(self, path):
        return self._v.mkdir(path)

    def rmdir(self, path):
        return self._v.rmdir(path)

    def remove(self, path):
        return self._v.remove(path)

    def rename(self, old, new):
        self._host.rename(self._host_path(old), self._host_path(new))

    def _host_path(self, path):
        if not path.startswith("/"):
            cwd = self._v.getcwd()
            path = cwd.rstrip("/") + "/" + path
        return self._root + path

    def ilistdir(self, path):
        # A board's FAT/LittleFS ilistdir gives (name, type, inode, size); VfsPosix leaves the
        # size out, and `mpremote ls` shows it.
        prefix = path.rstrip("/")
        for entry in self._v.ilistdir(path):
            size = 0
            if entry[1] != 0x4000:
                try:
                    size = self._v.stat(prefix + "/" + entry[0])[6]
                except OSError:
                    pass
            yield (entry[0], entry[1], entry[2], size)

    def statvfs(self, path):
        # A board's filesystem is a fixed-size partition, not the host's disk.
        bsize = 4096
        blocks = self._size // bsize
        free = max(0, blocks - (self._used("") + bsize - 1) // bsize)
        return (bsize, bsize, blocks, free, free, 0, 0, 0, 0, 255)

    def _used(self, path):
        total = 0
        for entry in self._v.ilistdir(path or "/"):
            full = path + "/" + entry[0]
            if entry[1] == 0x4000:
                total += bsize_round(0) + self._used(full)
            else:
                total += bsize_round(self._v.stat(full)[6])
        return total


def bsize_round(n):
    # LittleFS and FAT allocate whole 4 KB blocks; a directory costs at least one.
    return (max(n, 1) + 4095) // 4096 * 4096


def romfs_mounted():
    """Whether the interpreter mounted a ROMFS image at /rom when it started. On a board,
    mp_init() does it and appends "/rom" and "/rom/lib" to sys.path (py/runtime.c,
    mp_vfs_mount_romfs_protected); the unix port mounts it too but then builds sys.path anew
    from MICROPYPATH, so mount_flash puts them back in the ports' order."""
    if vfs is None:
        return False
    getenv = getattr(os, "getenv", None)
    wanted = getenv("MICROHTTP_ROMFS") if getenv else None
    if wanted and not hasattr(vfs, "rom_ioctl"):
        print("simboot: this interpreter has no vfs.rom_ioctl, so no ROMFS partition: use the one "
              "tools/provision_micropython.py builds (unset MICROPYTHON or MICROPYTHON32 if it names another)")
    return any(point == "/rom" for _, point in vfs.mount())


def mount_flash(flash_size):
    root = os.getcwd()
    if vfs is None:
        # CPython: cwd is the flash; absolute paths still reach the host (documented limit).
        sys.path[:0] = ["", "lib"]
        return root
    vfs.umount("/")
    vfs.mount(FlashVfs(root, flash_size), "/")
    os.chdir("/")
    # ports/esp32/main.c and ports/rp2/main.c append "/lib" after mp_init(), so after /rom.
    sys.path[:] = ["", ".frozen"] + (["/rom", "/rom/lib"] if romfs_mounted() else []) + ["/lib"]
    return root


def configure_sim(port, board, wifi):
    try:
        import network

        for ssid, password in wifi:
            network.sim.add_network(ssid, password, rssi=-50)
    except (ImportError, AttributeError) as exc:
        if wifi:
            print("simboot: cannot simulate Wi-Fi networks:", exc)
    try:
        import machine
    except ImportError:
        return None
    sim = getattr(machine, "sim", None)
    if sim is None:
        return None
    sim.configure(port=port)  # forgets pins and jumpers: a reset board starts clean
    for pair in (board or {}).get("loopbacks", ()):
        try:
            if isinstance(pair, dict):
                sim.connect(pair.get("out", pair.get("output")), pair.get("in", pair.get("input")))
            else:
                sim.connect(pair[0], pair[1])
        except Exception as exc:  # a bad jumper entry must not stop the board from booting
            print("simboot: loopback", pair, "not wired:", exc)
    return sim


_ballast = []


def hold_ballast(free_target):
    """Allocate one block so that gc.mem_free() is about free_target from here on."""
    if not free_target:
        return
    import gc

    gc.collect()
    excess = gc.mem_free() - free_target
    if excess > 64:
        _ballast.append(bytearray(excess - 32))  # 32: the block's own rounding and header
        import control

        control._state["ballast"] = excess - 32
    gc.collect()
    if gc.mem_free() < free_target * 9 // 10:
        print("simboot: only %d bytes of heap free for the firmware (wanted %d): raise -X heapsize"
              % (gc.mem_free(), free_target))


def run_file(name, g):
    """Run boot.py / main.py in the REPL's globals; returns False if the file is absent."""
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return False
    try:
        exec(compile(src, name, "exec"), g)
    except BaseException as exc:  # noqa: B036 - a board's pyexec reports everything, then goes on
        if is_reset(exc):
            raise
        if not isinstance(exc, SystemExit):
            print_exception(exc)
    return True


def main_wanted(repl):
    """Whether to run main.py. The supervisor (--repl) is asked first: it answers "skip" when a
    Ctrl-C came during start-up, which a board's main.py would take at its first line. (The
    supervisor holds such a Ctrl-C rather than signal it: a KeyboardInterrupt in the set-up
    above would end this process, and in main.py's first imports it can be lost.)"""
    if not repl:
        return True
    import repldriver

    repldriver._write(repldriver.MAIN_MARK)
    if sys.stdin.buffer.readline().strip() != b"skip":
        return True
    print("simboot: Ctrl-C during start-up: main.py not run")
    return False


def main(argv):
    opts = parse_args(argv)
    target = opts["port"] or "esp32"
    preimport_sim(target)
    import control

    board = load_board_file(opts["board"])
    flash_size = opts["flash_size"] or control.FLASH_FS_BYTES.get(target, 2 * 1024 * 1024)
    mount_flash(flash_size)
    sim = configure_sim(target, board, opts["wifi"])
    if opts["control_port"]:
        control.start(opts["control_port"], sim, board, opts["board"], target)
    hold_ballast(opts["free"])
    g = {"__name__": "__main__"}
    try:
        run_file("boot.py", g)
        if opts["main"] and main_wanted(opts["repl"]):
            run_file("main.py", g)
        if opts["repl"]:
            import repldriver

            repldriver.serve(g)
    except BaseException as exc:
        if is_reset(exc):
            sys.exit(reset_exit_code(exc))
        raise


main(sys.argv[1:])
