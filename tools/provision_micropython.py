#!/usr/bin/env python3
"""Provision a real MicroPython interpreter (the unix port) for tests and the virtual board.

Debian 12 ships no ``micropython`` package, but Debian 13 ("trixie") has the 1.25.0 source
package. We fetch that source with a private apt configuration (the system's sources are never
touched), unpack it with ``dpkg-source``, apply this repository's patches and build ``mpy-cross``
in it. That prepared source tree stays in the cache, keyed by version and patches, so every later
build starts from it without downloading again.

The unix port is built out of tree from this repository's variant, ``tools/unix_port/microhttp``
(``make VARIANT_DIR=...``): the standard variant plus a ROMFS partition backed by a file that the
interpreter maps into memory (``vfs_rom_file.c`` there; ``MICROHTTP_ROMFS`` names the file,
``MICROHTTP_ROMFS_BYTES`` its size), so the virtual board runs ``.mpy`` files in place from
``/rom`` as a board with a romfs partition does. The default build freezes only ``asyncio``.

Two word sizes: the default, 64-bit like the machine, and with ``--bits 32`` an i386 build (gcc's
``-m32``, Debian's gcc-multilib, installed when missing). The boards are 32-bit: there an object
and a heap block (16 bytes) are half their 64-bit size, and small integers have 31 bits, so the
32-bit build is what a board's heap and arithmetic look like; the host tests run on both.

Cache layout (``~/.cache/microhttp``, or ``$MICROHTTP_CACHE``)::

    micropython-1.25.0-source-<patches digest>/tree   the unpacked, patched source and mpy-cross
    micropython-1.25.0-r<N>-<recipe digest>[-32bit]/bin/{micropython,mpy-cross}

A build folder's name carries RECIPE_REVISION and a digest of everything the build is made from
(the variant directory, the patches, make flags, word size, frozen manifest), so a change to any
of them builds anew instead of reusing an interpreter made another way.

Usage::

    python3 tools/provision_micropython.py            # prints the interpreter's path
    python3 tools/provision_micropython.py --bits 32  # the 32-bit build's path
    python3 tools/provision_micropython.py --force    # rebuild (the cached source is kept)
    python3 tools/provision_micropython.py --source   # prints the prepared source tree's path

From Python, ``build_port(bits, frozen_manifest=None, name="micropython")`` builds a unix port
with this variant and another frozen manifest (say, the firmware frozen in) and returns its path.

Environment: ``MICROHTTP_CACHE`` overrides the cache folder; ``MICROPYTHON`` (``MICROPYTHON32``
for ``--bits 32``) names an interpreter for every tool and test to use instead of the cached one.
"""

import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

VERSION = "1.25.0"
DEBIAN_VERSION = "1.25.0+ds-1"
SUITE = "trixie"
# The unix port is built without SSL/FFI/btree: the firmware uses none of them, and they need
# libraries (mbedtls, libffi, berkeley-db) the source package does not vendor.
MAKE_FLAGS = ["MICROPY_PY_SSL=0", "MICROPY_PY_FFI=0", "MICROPY_PY_BTREE=0"]
APT_SOURCES = "/etc/apt/sources.list.d/debian.sources"

HERE = os.path.dirname(os.path.abspath(__file__))
UNIX_PORT = os.path.join(HERE, "unix_port")
VARIANT_DIR = os.path.join(UNIX_PORT, "microhttp")
# Applied in this order to the unpacked source, each checked first: one that no longer applies
# stops the provisioning with its name (see apply_patch).
PATCHES = [os.path.join(UNIX_PORT, "main-c-variant-rom-ioctl.patch")]
# Bump when the build steps change in a way the recipe digest cannot see (it covers the variant
# directory, the patches, MAKE_FLAGS, the word size and the frozen manifest's text).
RECIPE_REVISION = 2
# The default frozen content. The port's own manifest wants micropython-lib, which the source
# package does not ship.
DEFAULT_MANIFEST = 'include("$(MPY_DIR)/extmod/asyncio")\n'
PREPARED_MARK = ".microhttp-prepared"


class ProvisionError(Exception):
    pass


def cache_root():
    return os.environ.get("MICROHTTP_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "microhttp"
    )


def _digest(parts):
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        h.update(b"%d:" % len(data) + data)
    return h.hexdigest()


def _files_digest_parts(paths):
    parts = []
    for path in paths:
        with open(path, "rb") as f:
            parts += [os.path.basename(path), f.read()]
    return parts


def _variant_files():
    return sorted(os.path.join(VARIANT_DIR, name) for name in os.listdir(VARIANT_DIR)
                  if os.path.isfile(os.path.join(VARIANT_DIR, name)))


def source_dir(root=None):
    """The prepared source's cache folder: per MicroPython version and set of patches."""
    digest = _digest([DEBIAN_VERSION] + _files_digest_parts(PATCHES))[:10]
    return os.path.join(root or cache_root(), "micropython-%s-source-%s" % (VERSION, digest))


def _manifest_text(frozen_manifest):
    # The checkout's own path is left out: the frozen modules' names are relative, so two
    # checkouts of the same sources build the same interpreter and share one cached build.
    if frozen_manifest is None:
        return DEFAULT_MANIFEST
    with open(frozen_manifest) as f:
        return f.read().replace(REPOSITORY, "<checkout>")


def build_dir_name(bits=64, frozen_manifest=None, name="micropython"):
    """The cache folder of one build: ``<name>-<version>-r<revision>-<recipe digest>[-32bit]``."""
    recipe = _digest([RECIPE_REVISION, VERSION, DEBIAN_VERSION, bits, " ".join(MAKE_FLAGS),
                      _manifest_text(frozen_manifest)]
                     + _files_digest_parts(_variant_files()) + _files_digest_parts(PATCHES))
    return "%s-%s-r%d-%s%s" % (name, VERSION, RECIPE_REVISION, recipe[:8], "-32bit" if bits == 32 else "")


def interpreter_path(root=None, bits=64):
    """Where the default build (asyncio frozen) of this word size lives in the cache."""
    return os.path.join(root or cache_root(), build_dir_name(bits), "bin", "micropython")


def interpreter(bits=64):
    """The interpreter to use: ``$MICROPYTHON`` (``$MICROPYTHON32``) if it exists, else the
    cached build (made now if missing). Every tool and test asks here, so there is one rule for
    finding it."""
    path = os.environ.get("MICROPYTHON32" if bits == 32 else "MICROPYTHON")
    if path and os.path.exists(path):
        return path
    path = interpreter_path(bits=bits)
    return path if os.path.exists(path) else build(bits=bits)


def log(msg):
    print("[micropython] " + msg, file=sys.stderr, flush=True)


def run(cmd, step, cwd=None, env=None, quiet=True, input=None):
    """Run one build step; on failure raise with the step's name and the tail of its output."""
    log(step + " ...")
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None, text=True, input=input,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout or "").splitlines()[-25:])
        raise ProvisionError(
            "step '%s' failed (exit %d): %s\n%s" % (step, proc.returncode, " ".join(cmd), tail)
        )
    log("%s done in %.1f s" % (step, time.monotonic() - started))
    return proc.stdout or ""


@contextlib.contextmanager
def cache_lock():
    """One provisioning at a time per cache: tests and tools started together (or another
    worktree's) wait for the build in progress instead of racing it in the same folders."""
    os.makedirs(cache_root(), exist_ok=True)
    with open(os.path.join(cache_root(), ".provision.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def first_debian_stanza():
    """URIs and Signed-By of the machine's own Debian source, so the private list mirrors it."""
    try:
        text = open(APT_SOURCES).read()
    except OSError as exc:
        raise ProvisionError(
            "cannot read %s (%s): this tool expects a Debian 12 machine with deb822 sources"
            % (APT_SOURCES, exc)
        )
    stanza = text.strip().split("\n\n")[0]
    uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
    signed = re.search(r"^Signed-By:\s*(\S+)", stanza, re.M)
    if not uris:
        raise ProvisionError("no 'URIs:' line in the first stanza of " + APT_SOURCES)
    return uris.group(1), signed.group(1) if signed else "/usr/share/keyrings/debian-archive-keyring.gpg"


def ensure_build_tools(bits=64):
    missing = [tool for tool in ("dpkg-source", "patch", "make", "gcc", "apt-get") if not shutil.which(tool)]
    if "dpkg-source" in missing and shutil.which("apt-get"):
        # dpkg-dev brings patch too (dpkg-source applies Debian's own patches with it).
        run(["apt-get", "install", "-y", "-q", "dpkg-dev"], "install dpkg-dev (for dpkg-source)")
        missing = [tool for tool in missing if not shutil.which(tool)]
    if missing:
        raise ProvisionError(
            "missing build tools: %s (install them with apt-get: dpkg-dev patch make gcc)" % ", ".join(missing)
        )
    if bits == 32 and not _can_build_32bit():
        if os.geteuid() != 0:
            raise ProvisionError("the 32-bit build needs gcc -m32: run 'sudo apt-get install gcc-multilib'")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-q", "gcc-multilib"]
        try:
            run(install, "install gcc-multilib (for gcc -m32)", env=env)
        except ProvisionError:  # a fresh machine's package lists may be missing or stale
            run(["apt-get", "update", "-q"], "apt-get update", env=env)
            run(install, "install gcc-multilib (for gcc -m32)", env=env)
        if not _can_build_32bit():
            raise ProvisionError("gcc -m32 still cannot link a program after installing gcc-multilib")


def _can_build_32bit():
    """Whether gcc can compile and link a 32-bit program (the i386 libc and libgcc present)."""
    proc = subprocess.run(
        ["gcc", "-m32", "-x", "c", "-", "-o", os.devnull], input="int main(void){return 0;}\n",
        text=True, capture_output=True,
    )
    return proc.returncode == 0


def fetch_source(work):
    uri, keyring = first_debian_stanza()
    apt_dir = os.path.join(work, "apt")
    parts = os.path.join(apt_dir, "sources.list.d")
    lists = os.path.join(apt_dir, "lists")
    os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
    os.makedirs(parts, exist_ok=True)
    with open(os.path.join(parts, "trixie-src.sources"), "w") as f:
        f.write(
            "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n"
            % (uri, SUITE, keyring)
        )
    private = [
        "-o", "Dir::Etc::SourceList=/dev/null",
        "-o", "Dir::Etc::SourceParts=" + parts,
        "-o", "Dir::State::Lists=" + lists,
        "-o", "APT::Sandbox::User=root",
    ]
    run(["apt-get", "-q"] + private + ["update"], "apt-get update (private trixie deb-src list)")
    src = os.path.join(work, "src")
    os.makedirs(src, exist_ok=True)
    run(
        ["apt-get", "-q"] + private + ["source", "--download-only", "micropython=" + DEBIAN_VERSION],
        "download the micropython %s source package" % DEBIAN_VERSION, cwd=src,
    )
    dsc = os.path.join(src, "micropython_%s.dsc" % DEBIAN_VERSION)
    if not os.path.exists(dsc):
        raise ProvisionError("apt-get source finished but %s is missing" % dsc)
    return dsc


def apply_patch(tree, patch):
    """Apply one of PATCHES, exactly: no fuzz, not reversed, checked with --dry-run first so a
    patch that no longer fits leaves the tree untouched and names itself."""
    args = ["patch", "-p1", "--forward", "--batch", "--fuzz=0", "-i", patch]
    name = os.path.relpath(patch, os.path.dirname(HERE))
    try:
        run(args + ["--dry-run"], "check that %s applies" % name, cwd=tree)
    except ProvisionError as exc:
        raise ProvisionError(
            "%s no longer applies to MicroPython %s (%s): update it to the source's new text "
            "(the unpacked tree is %s)" % (name, DEBIAN_VERSION, exc, tree)
        )
    run(args, "apply " + name, cwd=tree)


def source_tree(bits=64):
    """The unpacked, patched MicroPython source with mpy-cross built in it: prepared once per
    version and set of patches (downloaded then), kept in the cache for every later build."""
    folder = source_dir()
    tree = os.path.join(folder, "tree")
    if os.path.exists(os.path.join(tree, PREPARED_MARK)):
        return tree
    ensure_build_tools(bits)
    work = folder + ".tmp"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    dsc = fetch_source(work)
    staged = os.path.join(work, "tree")
    run(["dpkg-source", "--no-check", "-x", dsc, staged], "unpack and patch the source (dpkg-source)")
    for patch in PATCHES:
        apply_patch(staged, patch)
    # mpy-cross first and on its own: building it inside the port's make while FROZEN_MANIFEST
    # is set fails to link (see shared notes on the MicroPython runtime).
    run(["make", "-C", os.path.join(staged, "mpy-cross"), "-j%d" % (os.cpu_count() or 2)], "build mpy-cross")
    with open(os.path.join(staged, PREPARED_MARK), "w") as f:
        f.write("micropython %s with %s\n" % (DEBIAN_VERSION, ", ".join(os.path.basename(p) for p in PATCHES)))
    for downloaded in ("apt", "src"):  # the package files: only the unpacked tree is kept
        shutil.rmtree(os.path.join(work, downloaded), ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    os.rename(work, folder)  # publish atomically: a half-prepared tree is never picked up
    return tree


def build(force=False, bits=64):
    """The default interpreter of this word size (asyncio frozen), built if missing."""
    return build_port(bits=bits, force=force)


def build_port(bits=64, frozen_manifest=None, name="micropython", force=False):
    """Build the unix port with this repository's variant (tools/unix_port/microhttp) and return
    the interpreter's path, ``<cache>/<build_dir_name(...)>/bin/micropython`` (mpy-cross beside
    it). Cached: a second call with the same arguments returns at once.

    bits: 64 or 32 (gcc -m32, like the boards).
    frozen_manifest: a MicroPython manifest.py to freeze instead of asyncio alone; it may use
        $(MPY_DIR) (the source tree) and $(PORT_DIR). The cache key covers its text, not the
        files it includes: pass force=True when those changed.
    name: the first part of the cache folder's name, so that builds with other frozen content
        (e.g. "micropython-firmware") are told apart at a glance."""
    target = os.path.join(cache_root(), build_dir_name(bits, frozen_manifest, name), "bin", "micropython")
    if os.path.exists(target) and not force:
        return target
    with cache_lock():
        if os.path.exists(target) and not force:
            return target  # built by another process while this one waited
        ensure_build_tools(bits)
        tree = source_tree(bits)
        root = os.path.dirname(os.path.dirname(target))
        work = root + ".build"
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        if frozen_manifest is None:
            manifest = os.path.join(work, "manifest.py")
            with open(manifest, "w") as f:
                f.write(DEFAULT_MANIFEST)
        else:
            manifest = os.path.abspath(frozen_manifest)
        build_dir = os.path.join(work, "build")
        run(
            ["make", "-C", os.path.join(tree, "ports", "unix"), "-j%d" % (os.cpu_count() or 2),
             "VARIANT_DIR=" + VARIANT_DIR, "BUILD=" + build_dir, "FROZEN_MANIFEST=" + manifest]
            + MAKE_FLAGS + (["MICROPY_FORCE_32BIT=1"] if bits == 32 else []),
            "build the unix port (%s, %d-bit)" % (os.path.basename(root), bits),
        )
        built = os.path.join(build_dir, "micropython")
        smoke_test(built, bits)
        staging = root + ".tmp"
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(os.path.join(staging, "bin"))
        shutil.copy2(built, os.path.join(staging, "bin", "micropython"))
        shutil.copy2(os.path.join(tree, "mpy-cross", "build", "mpy-cross"), os.path.join(staging, "bin", "mpy-cross"))
        shutil.rmtree(root, ignore_errors=True)
        os.rename(staging, root)  # publish atomically: a half-built cache is never picked up
        shutil.rmtree(work, ignore_errors=True)
    return target


REPOSITORY = os.path.dirname(HERE)
FIRMWARE = os.path.join(REPOSITORY, "firmware")
# The virtual board's own modules, frozen into the interpreter it runs: on a board, machine
# and network are in ROM (their code and names take no heap); here they are Python, and loaded
# from files they would take the firmware's heap, and their names would fill the heap's first
# qstr pools (the firmware's names would then land in pools already paid for).
SIMULATION = [os.path.join(REPOSITORY, "tools", "sim", name) for name in
              ("machine.py", "network.py", "neopixel.py", "rp2.py")] + \
             [os.path.join(REPOSITORY, "tools", "vboard", name) for name in ("control.py", "repldriver.py", "simboot.py")]
VBOARD_NAME = "micropython-vboard"


def _sources_digest(paths):
    parts = []
    for path in sorted(paths):
        with open(path, "rb") as f:
            parts += [os.path.relpath(path, REPOSITORY), f.read()]
    return _digest(parts)[:10]


def _firmware_sources():
    """Every file firmware/manifest.py freezes, and the manifest itself."""
    return [os.path.join(root, name) for root, _, names in os.walk(FIRMWARE) for name in names
            if name.endswith(".py") and "__pycache__" not in root]


def vboard_interpreter(bits=64, firmware=False, force=False):
    """The unix port the virtual board runs: asyncio (as the ports freeze it) and the
    simulation's modules (SIMULATION) frozen in; with ``firmware``, the firmware too
    (firmware/manifest.py), as on a board whose MicroPython was built with it. Rebuilt when
    those sources change; older builds of the same kind are removed."""
    sources = SIMULATION + (_firmware_sources() if firmware else [])
    digest = _sources_digest(sources)
    stage = os.path.join(cache_root(), "vboard-manifests")
    os.makedirs(stage, exist_ok=True)
    manifest = os.path.join(stage, "manifest-%s.py" % digest)
    lines = [DEFAULT_MANIFEST.strip()]
    for path in SIMULATION:
        lines.append('module("%s", base_path="%s")' % (os.path.basename(path), os.path.dirname(path)))
    if firmware:
        lines.append('include("%s")' % os.path.join(FIRMWARE, "manifest.py"))
    with open(manifest, "w") as f:
        f.write("\n".join(lines) + "\n")
    kind = VBOARD_NAME + ("-firmware" if firmware else "")
    path = build_port(bits, manifest, "%s-%s" % (kind, digest), force)
    prune_builds(kind, bits)
    return path


KEEP_BUILDS = 3  # of one kind and word size: another checkout's sources may need theirs


def prune_builds(kind, bits):
    """Remove all but the KEEP_BUILDS newest finished builds of ``kind`` (one word size); builds
    in progress (their .build and .tmp folders) are never touched."""
    finished = re.compile(r"%s-[0-9a-f]{10}-%s-r\d+-[0-9a-f]{8}%s$"
                          % (re.escape(kind), re.escape(VERSION), "-32bit" if bits == 32 else ""))
    with cache_lock():
        builds = [os.path.join(cache_root(), name) for name in os.listdir(cache_root()) if finished.match(name)]
        builds.sort(key=os.path.getmtime, reverse=True)
        for old in builds[KEEP_BUILDS:]:
            shutil.rmtree(old, ignore_errors=True)


# A ROMFS image (the format extmod/vfs_rom.c describes) holding one file, "smoke.txt" = b"rom":
# the filesystem record (kind 0x14a6b1, encoded d2 cd 31) and its length, 0x11, padded with one
# 0x80 byte (a record's size must be even); then a file record (kind 5, 15 bytes): the name's
# length and the name, and a verbatim data record (kind 2, 3 bytes).
_SMOKE_IMAGE = (bytes([0xD2, 0xCD, 0x31, 0x80, 0x11, 0x05, 0x0F, 0x09]) + b"smoke.txt"
                + bytes([0x02, 0x03]) + b"rom")


def smoke_test(binary, bits):
    """The version and word size, and the ROMFS partition: none without MICROHTTP_ROMFS; with it,
    an image written through vfs.rom_ioctl() is mounted at /rom by the next start."""
    out = run([binary, "-c", "import sys, asyncio; print(sys.implementation.version, 64 if sys.maxsize > 1 << 32 else 32)"],
              "smoke-test the interpreter")
    if not out.startswith("(1, 25, 0") or not out.strip().endswith(" %d" % bits):
        raise ProvisionError("built interpreter reports an unexpected version or word size: " + out.strip())
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROHTTP_ROMFS")}
    out = run([binary, "-c", "import vfs; print(vfs.rom_ioctl(1))"], "smoke-test: no ROMFS partition", env=env)
    if out.strip() != "0":
        raise ProvisionError("without MICROHTTP_ROMFS the interpreter reports %s ROMFS segments, not 0" % out.strip())
    with tempfile.TemporaryDirectory(prefix="romfs-smoke-") as tmp:
        env.update(MICROHTTP_ROMFS=os.path.join(tmp, "romfs.img"), MICROHTTP_ROMFS_BYTES="8192")
        write = ("import vfs\nimg = %r\nassert vfs.rom_ioctl(1) == 1 and len(vfs.rom_ioctl(2, 0)) == 8192\n"
                 "assert vfs.rom_ioctl(3, 0, len(img)) > 0 and vfs.rom_ioctl(4, 0, 0, img) == 0\n"
                 "assert vfs.rom_ioctl(5, 0) == 0\n" % _SMOKE_IMAGE)
        run([binary, "-c", write], "smoke-test: write a ROMFS image", env=env)
        out = run([binary, "-c", "print(open('/rom/smoke.txt').read())"], "smoke-test: mount it at /rom", env=env)
        if out.strip() != "rom":
            raise ProvisionError("the ROMFS image written through vfs.rom_ioctl() is not mounted at /rom: " + out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if cached (the cached source is kept)")
    parser.add_argument("--bits", type=int, choices=(64, 32), default=64,
                        help="64 (the default, like this machine) or 32 (like the boards)")
    parser.add_argument("--source", action="store_true",
                        help="print the prepared source tree's path (preparing it if needed) instead")
    parser.add_argument("--vboard", action="store_true",
                        help="build (or reuse) the virtual board's interpreter (the simulation frozen in)")
    parser.add_argument("--frozen-firmware", action="store_true",
                        help="with --vboard: the firmware frozen in too (firmware/manifest.py)")
    args = parser.parse_args(argv)
    try:
        if args.source:
            with cache_lock():
                path = source_tree(args.bits)
        elif args.vboard:
            path = vboard_interpreter(bits=args.bits, firmware=args.frozen_firmware, force=args.force)
        else:
            path = build(force=args.force, bits=args.bits)
    except ProvisionError as exc:
        print("provision_micropython: " + str(exc), file=sys.stderr)
        print(
            "provision_micropython: what to do next: check that apt-get can reach Debian's package "
            "registry, then run `python3 tools/provision_micropython.py --force` (add the same --bits).",
            file=sys.stderr,
        )
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
