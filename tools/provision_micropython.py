#!/usr/bin/env python3
"""Provision a real MicroPython interpreter (the unix port) for tests and the virtual board.

Debian 12 ships no ``micropython`` package, but Debian 13 ("trixie") has the 1.25.0 source
package. We fetch that source with a private apt configuration (the system's sources are never
touched), unpack it with ``dpkg-source``, build ``mpy-cross`` and then the unix port with only
``asyncio`` frozen in. The result is cached outside the repository, keyed by version, so a second
run costs well under a second.

Two builds: the default, 64-bit like the machine, and with ``--bits 32`` an i386 build (gcc's
``-m32``, Debian's gcc-multilib, installed when missing). The boards are 32-bit: there an object
and a heap block (16 bytes) are half their 64-bit size, and small integers have 31 bits, so the
32-bit build is what a board's heap and arithmetic look like; the host tests run on both.

Usage::

    python3 tools/provision_micropython.py            # prints the interpreter's path
    python3 tools/provision_micropython.py --bits 32  # the 32-bit build's path
    python3 tools/provision_micropython.py --force    # rebuild

Environment: ``MICROHTTP_CACHE`` overrides the cache folder (default ``~/.cache/microhttp``);
``MICROPYTHON`` (``MICROPYTHON32`` for ``--bits 32``) names an interpreter to use instead.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

VERSION = "1.25.0"
DEBIAN_VERSION = "1.25.0+ds-1"
SUITE = "trixie"
# The unix port is built without SSL/FFI/btree: the firmware uses none of them, and they need
# libraries (mbedtls, libffi, berkeley-db) the source package does not vendor.
MAKE_FLAGS = ["MICROPY_PY_SSL=0", "MICROPY_PY_FFI=0", "MICROPY_PY_BTREE=0"]
APT_SOURCES = "/etc/apt/sources.list.d/debian.sources"


class ProvisionError(Exception):
    pass


def cache_root():
    return os.environ.get("MICROHTTP_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "microhttp"
    )


def _build_name(bits):
    return "micropython-" + VERSION + ("-32bit" if bits == 32 else "")


def interpreter_path(root=None, bits=64):
    return os.path.join(root or cache_root(), _build_name(bits), "bin", "micropython")


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


def run(cmd, step, cwd=None, env=None, quiet=True):
    """Run one build step; on failure raise with the step's name and the tail of its output."""
    log(step + " ...")
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None, text=True,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout or "").splitlines()[-25:])
        raise ProvisionError(
            "step '%s' failed (exit %d): %s\n%s" % (step, proc.returncode, " ".join(cmd), tail)
        )
    log("%s done in %.1f s" % (step, time.monotonic() - started))
    return proc.stdout or ""


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
    missing = [tool for tool in ("dpkg-source", "make", "gcc", "apt-get") if not shutil.which(tool)]
    if "dpkg-source" in missing and shutil.which("apt-get"):
        run(["apt-get", "install", "-y", "-q", "dpkg-dev"], "install dpkg-dev (for dpkg-source)")
        missing.remove("dpkg-source")
    if missing:
        raise ProvisionError(
            "missing build tools: %s (install them with apt-get: dpkg-dev make gcc)" % ", ".join(missing)
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


def build(force=False, bits=64):
    target = interpreter_path(bits=bits)
    if os.path.exists(target) and not force:
        return target
    ensure_build_tools(bits)
    root = os.path.join(cache_root(), _build_name(bits))
    work = os.path.join(cache_root(), "build-" + _build_name(bits))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    dsc = fetch_source(work)
    tree = os.path.join(work, "tree")
    run(["dpkg-source", "--no-check", "-x", dsc, tree], "unpack and patch the source (dpkg-source)")
    jobs = "-j%d" % (os.cpu_count() or 2)
    # mpy-cross first and on its own: building it inside the port's make while FROZEN_MANIFEST
    # is set fails to link (see shared notes on the MicroPython runtime).
    run(["make", "-C", os.path.join(tree, "mpy-cross"), jobs], "build mpy-cross")
    manifest = os.path.join(work, "manifest.py")
    with open(manifest, "w") as f:
        # The default manifest wants micropython-lib, which the source package does not ship.
        f.write('include("$(MPY_DIR)/extmod/asyncio")\n')
    run(
        ["make", "-C", os.path.join(tree, "ports", "unix"), jobs] + MAKE_FLAGS
        + (["MICROPY_FORCE_32BIT=1"] if bits == 32 else []) + ["FROZEN_MANIFEST=" + manifest],
        "build the unix port (%d-bit)" % bits,
    )
    built = os.path.join(tree, "ports", "unix", "build-standard", "micropython")
    built_cross = os.path.join(tree, "mpy-cross", "build", "mpy-cross")
    out = run([built, "-c", "import sys, asyncio; print(sys.implementation.version, 64 if sys.maxsize > 1 << 32 else 32)"],
              "smoke-test the interpreter")
    if not out.startswith("(1, 25, 0") or not out.strip().endswith(" %d" % bits):
        raise ProvisionError("built interpreter reports an unexpected version or word size: " + out.strip())
    staging = root + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(os.path.join(staging, "bin"))
    shutil.copy2(built, os.path.join(staging, "bin", "micropython"))
    shutil.copy2(built_cross, os.path.join(staging, "bin", "mpy-cross"))
    shutil.rmtree(root, ignore_errors=True)
    os.rename(staging, root)  # publish atomically: a half-built cache is never picked up
    shutil.rmtree(work, ignore_errors=True)
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--bits", type=int, choices=(64, 32), default=64,
                        help="64 (the default, like this machine) or 32 (like the boards)")
    args = parser.parse_args(argv)
    try:
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
