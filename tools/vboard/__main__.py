"""The virtual board's command line: python -m tools.vboard --help (from the repository root)."""

import argparse
import signal
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python tools/vboard ...`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
    __package__ = "tools.vboard"

from tools.vboard.supervisor import HEAP_BYTES, HEAP_SCALE, ROMFS_BYTES, Supervisor, heap_for  # noqa: E402


def parse_size(text):
    text = text.strip().lower()
    mult = 1024 if text.endswith("k") else 1024 * 1024 if text.endswith("m") else 1
    return int(float(text.rstrip("km")) * mult)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m tools.vboard",
        description="Run a flash directory on the MicroPython unix port as a virtual board: simulated "
        "pins, a control channel and an mpremote-compatible REPL on 127.0.0.1.",
    )
    root = Path(__file__).resolve().parent.parent.parent
    p.add_argument("--flash", default=str(root / "build" / "vboard" / "flash"),
                   help="the board's filesystem (default: %(default)s)")
    p.add_argument("--board", default="virtual", help="board id, boards/<id>.json (default: %(default)s)")
    p.add_argument("--target", choices=sorted(HEAP_BYTES), help="simulated port (default: from the board file's chip)")
    p.add_argument("--heap", type=parse_size, help="GC heap, e.g. 112k (default: the target's, see docs/virtual-board.md)")
    p.add_argument("--heap-scale", type=float, default=None,
                   help="multiply the target's heap: the unix port is 64-bit, the boards 32-bit "
                   "(default %s on the 64-bit build, the word-size ratio; 1 = the board's raw bytes, "
                   "strict; 1 on the 32-bit build)" % HEAP_SCALE)
    p.add_argument("--bits", type=int, choices=(64, 32), default=32,
                   help="the unix port's 32-bit build, the boards' word size, with the target's own heap "
                   "(default; built on first use, needs gcc-multilib), or its 64-bit build (lenient: the heap "
                   "scaled by 2)")
    p.add_argument("--frozen", action="store_true",
                   help="run the unix port with the firmware frozen in (firmware/manifest.py; built on first "
                   "use), as a board flashed with such a MicroPython build: the flash then needs no code")
    p.add_argument("--repl-port", type=int, default=0, help="REPL TCP port (default: a free one)")
    p.add_argument("--control-port", type=int, default=0, help="control channel TCP port (default: a free one)")
    p.add_argument("--runtime", choices=("micropython", "cpython"), default="micropython",
                   help="cpython runs .py sources only and keeps the host's '/' (debugging)")
    p.add_argument("--flash-size", type=parse_size, default=0,
                   help="filesystem size statvfs reports, e.g. 848k (default: the target's partition)")
    p.add_argument("--romfs-size", type=parse_size, default=None,
                   help="the ROMFS partition, e.g. 128k, mounted at /rom (default: the target's: %s; "
                   "0 = none, as on stock firmware). Its image is the file <flash>.romfs beside the "
                   "flash directory, kept across resets"
                   % ", ".join("%s %dk" % (t, n // 1024) for t, n in sorted(ROMFS_BYTES.items())))
    p.add_argument("--wifi", action="append", default=[], metavar="SSID=PASSWORD",
                   help="a Wi-Fi network in range of the simulated radio (repeatable)")
    p.add_argument("--quiet", action="store_true", help="do not copy the firmware's output to stdout")
    args = p.parse_args(argv)

    sup = Supervisor(args.flash, board=args.board, target=args.target, repl_port=args.repl_port,
                     control_port=args.control_port, runtime=args.runtime,
                     log=open("/dev/null", "wb") if args.quiet else None, flash_size=args.flash_size,
                     wifi=args.wifi, bits=args.bits, romfs_size=args.romfs_size, frozen=args.frozen)
    sup.heap = args.heap or heap_for(sup.target, args.heap_scale, args.bits)
    sup.start()
    print("vboard: board=%s target=%s heap=%d flash=%s" % (sup.board_id, sup.target, sup.heap, sup.flash), flush=True)
    print("vboard: repl=%s control=127.0.0.1:%d" % (sup.url, sup.control_port), flush=True)
    if sup.romfs_size:
        print("vboard: romfs=%d bytes in %s (mounted at /rom when it holds an image)"
              % (sup.romfs_size, sup.romfs_image), flush=True)
    else:
        print("vboard: romfs=none", flush=True)
    if sup.http_url():
        print("vboard: http=%s (http_port in the flash's config.json)" % sup.http_url(), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        sup.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
