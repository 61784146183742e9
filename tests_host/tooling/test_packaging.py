"""mip packaging: firmware/lib/<package>/package.json lists every file the package needs, each
listed module's imports are listed or built into MicroPython, and `mpremote mip install` of the
local package.json puts a package on a fresh virtual board that imports there."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import paths
import pytest

sys.path.insert(0, str(paths.ROOT))

from tools import build_image  # noqa: E402
from tools.vboard.supervisor import Supervisor  # noqa: E402

CPYTHON_ONLY = True

# In install order: the drivers take their runtime differences from microhttp.compat. mip's
# "deps" cannot name a sibling package of a checkout (a local path there is read from the
# current directory), so the order is documented (docs/deploy.md) and kept here.
PACKAGES = ("microhttp", "drivers")
SIBLINGS = {"microhttp": set(), "drivers": {"microhttp"}}

# Files a package keeps beside its modules but that never run on a board: one table, shared
# with the flash-image builder.
HOST_ONLY = build_image.HOST_ONLY

# Modules built into the ESP32 and RP2 ports (docs/library; asyncio is frozen in), which a
# package may import without listing them. rp2 and neopixel: imported behind port checks.
BUILTIN = {
    "asyncio", "binascii", "collections", "errno", "gc", "hashlib", "io", "json", "machine",
    "math", "micropython", "network", "os", "random", "re", "select", "socket", "ssl", "struct",
    "sys", "time", "neopixel", "rp2", "esp32", "_thread", "array", "deflate", "vfs",
}


def load(pkg):
    return json.loads((paths.FIRMWARE_LIB / pkg / "package.json").read_text())


def imports_of(path, pkg):
    """(package modules, other top-level modules) that a module imports."""
    tree = ast.parse(Path(path).read_text())
    own, other = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == pkg:
                    own.add(parts[1] if len(parts) > 1 else "__init__")
                else:
                    other.add(parts[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x / from .x import y
                if node.module:
                    own.add(node.module.split(".")[0])
                else:
                    own.update(a.name for a in node.names)
                continue
            parts = (node.module or "").split(".")
            if parts[0] != pkg:
                other.add(parts[0])
            elif len(parts) > 1:
                own.add(parts[1])
            else:  # from pkg import x: a submodule, or a name of __init__
                own.add("__init__")
                own.update(a.name for a in node.names if (paths.FIRMWARE_LIB / pkg / (a.name + ".py")).exists())
    return own, other


@pytest.mark.parametrize("pkg", PACKAGES)
def test_package_json_is_well_formed(pkg):
    data = load(pkg)
    assert set(data) <= {"urls", "deps", "version", "hashes"}
    assert isinstance(data["version"], str) and data["version"]
    for dest, src in data["urls"]:
        assert dest == pkg + "/" + src, "a file installs under /lib/%s/ with its own name" % pkg
        assert (paths.FIRMWARE_LIB / pkg / src).is_file(), "listed but missing: %s" % src
    dests = [d for d, _ in data["urls"]]
    assert len(dests) == len(set(dests))


@pytest.mark.parametrize("pkg", PACKAGES)
def test_every_module_the_package_needs_is_listed(pkg):
    listed = {dest.split("/", 1)[1] for dest, _ in load(pkg)["urls"]}
    deps = {d[0] if isinstance(d, list) else d for d in load(pkg).get("deps", [])}
    folder = paths.FIRMWARE_LIB / pkg
    on_disk = {p.name for p in folder.glob("*.py")}
    unlisted = on_disk - listed - {k.split("/", 1)[1] for k in HOST_ONLY if k.startswith(pkg + "/")}
    assert not unlisted, "%s/package.json misses %s" % (pkg, sorted(unlisted))
    assert "__init__.py" in listed
    for name in sorted(listed):
        if not name.endswith(".py"):
            continue
        own, other = imports_of(folder / name, pkg)
        for mod in own:
            needed = pkg + "/" + mod + ".py"
            if needed in HOST_ONLY:
                continue
            assert mod + ".py" in listed, "%s imports %s, which package.json does not list" % (name, needed)
        foreign = {m for m in other if m not in BUILTIN and m not in deps and m not in SIBLINGS[pkg] and m != "typing"}
        assert not foreign, "%s/%s imports %s: neither built into MicroPython nor a dep" % (pkg, name, sorted(foreign))


def test_host_only_files_are_not_listed():
    for path in HOST_ONLY:
        pkg, name = path.split("/", 1)
        assert name not in {src for _, src in load(pkg)["urls"]}


@pytest.mark.slow
def test_mpremote_mip_installs_each_package_on_a_fresh_board(tmp_path):
    class Quiet:
        def write(self, b):
            return len(b)

        def flush(self):
            pass

    with Supervisor(tmp_path / "flash", board="virtual", log=Quiet()) as sup:
        for pkg in PACKAGES:
            r = subprocess.run([sys.executable, "-m", "mpremote", "connect", sup.url, "mip", "install",
                                str(paths.FIRMWARE_LIB / pkg / "package.json")],
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stdout + r.stderr
        modules = [pkg + "." + src[:-3] for pkg in PACKAGES for _, src in load(pkg)["urls"]
                   if src != "__init__.py"]
        # One module at a time, forgotten after: compiling .py source on the board costs heap
        # (a board would get .mpy from the deploy tool; mip copies the sources as listed).
        code = ("import gc, sys\nn = 0\nfor m in %r:\n __import__(m)\n n += 1\n"
                " for k in [k for k in sys.modules if k.split('.')[0] in %r]:\n  del sys.modules[k]\n"
                " gc.collect()\nprint('imported', n)" % (modules, PACKAGES))
        r = subprocess.run([sys.executable, "-m", "mpremote", "connect", sup.url, "exec", code],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("imported %d" % len(modules))
        installed = sorted(p.relative_to(sup.flash).as_posix() for p in sup.flash.rglob("*.py"))
        assert installed == sorted("lib/" + dest for pkg in PACKAGES for dest, _ in load(pkg)["urls"])


# What each package may load of its siblings when it is imported: the drivers take their timing
# helpers from microhttp.compat, and a program that uses the drivers without serving HTTP must
# not carry the server in its heap.
LOADED_WITH = {"drivers": {"microhttp", "microhttp.compat"}}
# CPython with the simulated board modules (machine, micropython) and the firmware's packages.
CPYTHON_ENV = {**os.environ, "PYTHONPATH": "%s:%s" % (paths.SIM, paths.FIRMWARE_LIB)}


@pytest.mark.parametrize("runtime", ["cpython", "micropython", "micropython32"])
@pytest.mark.parametrize("pkg", sorted(LOADED_WITH))
def test_importing_a_package_loads_only_the_sibling_modules_it_needs(pkg, runtime):
    probe = ("import sys\nimport %s\nprint(' '.join(sorted(name for name in sys.modules if name.split('.')[0] in %r)))"
             % (pkg, sorted(SIBLINGS[pkg])))
    if runtime == "cpython":
        command, env = [sys.executable, "-c", probe], CPYTHON_ENV
        expected = LOADED_WITH[pkg] | {"microhttp.compat_cpython"}  # compat's CPython half
    else:
        command, env = [paths.micropython_binary(paths.MICROPYTHON_BITS[runtime]), "-c", probe], paths.micropython_env()
        expected = LOADED_WITH[pkg]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert set(out.stdout.split()) == expected


def test_the_package_still_gives_its_public_names_and_submodules():
    # Loaded on first use (microhttp/__init__.py): the names, and a submodule asked for by
    # `from microhttp import ...` before it is imported, on both runtimes.
    probe = ("from microhttp import App, HTTPError\nfrom microhttp import sse\nimport microhttp\n"
             "print(App.__name__, HTTPError.__name__, microhttp.Response.__name__, microhttp.Request.__name__,"
             " sse.EventHub.__name__)\n"
             "try:\n    from microhttp import no_such_module\nexcept ImportError:\n    print('ImportError')\n")
    for command, env in (([sys.executable, "-c", probe], CPYTHON_ENV),
                         ([paths.micropython_binary(32), "-c", probe], paths.micropython_env())):
        out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.split() == ["App", "HTTPError", "Response", "Request", "EventHub", "ImportError"]


def test_the_firmware_reports_the_release_the_project_and_the_freezing_manifest_name():
    import re
    import tomllib

    release = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]["version"]
    firmware_py = (paths.FIRMWARE / "app" / "firmware.py").read_text()
    manifest = (paths.FIRMWARE / "manifest.py").read_text()
    assert re.search(r'^VERSION = "([^"]+)"', firmware_py, re.M).group(1) == release
    assert re.search(r'metadata\(.*version="([^"]+)"', manifest).group(1) == release
