#!/usr/bin/env python3
"""Assemble a flash image directory: what goes onto the board's filesystem, as source.

    python tools/build_image.py OUT_DIR [--board ID] [--config FILE.json]

Layout of OUT_DIR (the board's "/"):
    boot.py, main.py, app/*.py, lib/**.py   from firmware/ (www/ excluded)
    boards/<id>.json                        every board definition, or only --board's
    www/<name>.gz                           each web asset gzipped (served precompressed)
    config.json                             only when a config is given

``build_image(out_dir, board_id=None, config=None, host_only=False)`` returns the relative paths
written, sorted; the deploy tool compiles the ``.py`` ones to ``.mpy``. ``host_only=True`` adds
the HOST_ONLY files, for an image that is also booted on CPython (the host tests). Output is reproducible (gzip mtime 0).
"""

import argparse
import gzip
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"
WEB_BUDGET = 20 * 1024  # bytes gzipped for a cold load of the control page (issue 6)

# Files under firmware/ that never run on a board (paths relative to firmware/lib), with the
# reason. Neither the flash image nor the mip packages carry them.
HOST_ONLY = {
    "microhttp/compat_cpython.py": "the CPython half of microhttp.compat: imported only when "
                                   "sys.implementation.name is not 'micropython'",
}


# Files under firmware/ that describe a build and are never code on a board.
BUILD_ONLY = {
    "manifest.py": "the manifest that freezes the firmware into a MicroPython build (docs/deploy forms)",
}


def _copy(src, dst, written, rel):
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    written.append(rel)


def gzip_bytes(data):
    # mtime=0 and no file name: the same input always gives the same bytes (and the same ETag).
    return gzip.compress(data, compresslevel=9, mtime=0)


def build_image(out_dir, board_id=None, config=None, host_only=False):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sorted(FIRMWARE.rglob("*.py")):
        rel = src.relative_to(FIRMWARE)
        if "__pycache__" in rel.parts or rel.parts[0] == "www" or rel.as_posix() in BUILD_ONLY:
            continue
        # A board never imports HOST_ONLY files; an image the tests also boot on CPython needs them.
        if not host_only and rel.parts[0] == "lib" and rel.relative_to("lib").as_posix() in HOST_ONLY:
            continue
        _copy(src, out / rel, written, rel.as_posix())
    boards = sorted(BOARDS.glob("*.json"))
    if board_id is not None:
        boards = [b for b in boards if b.stem == board_id]
        if not boards:
            raise SystemExit("build_image: no board definition boards/%s.json" % board_id)
    for src in boards:
        _copy(src, out / "boards" / src.name, written, "boards/" + src.name)
    www = FIRMWARE / "www"
    for src in sorted(p for p in www.rglob("*") if p.is_file()):
        rel = "www/" + src.relative_to(www).as_posix() + ".gz"
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(gzip_bytes(src.read_bytes()))
        written.append(rel)
    if config is not None or board_id is not None:
        data = dict(config or {})
        if board_id is not None:
            data.setdefault("board", board_id)
        (out / "config.json").write_text(json.dumps(data, indent=1))
        written.append("config.json")
    return sorted(written)


def web_size(out_dir):
    """Bytes of gzipped web assets in an image (the cold-load transfer of the page)."""
    return sum(p.stat().st_size for p in (Path(out_dir) / "www").rglob("*.gz"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--board")
    ap.add_argument("--config", help="JSON file to install as config.json")
    args = ap.parse_args(argv)
    config = json.loads(Path(args.config).read_text()) if args.config else None
    files = build_image(args.out_dir, args.board, config)
    for f in files:
        print(f)
    size = web_size(args.out_dir)
    print("web assets: %d bytes gzipped (budget %d)" % (size, WEB_BUDGET), file=sys.stderr)
    return 0 if size <= WEB_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
