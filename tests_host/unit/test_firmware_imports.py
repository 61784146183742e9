"""Every module under firmware/ imports, on CPython with tools/sim and on the MicroPython unix port.

This is what catches a CPython-only construct (a dataclass, ``typing`` at runtime, a module the
boards lack) that compiles fine with mpy-cross but dies on a board at import time.
``FIRMWARE_ROOT`` points the test at another tree (the harness self-test uses it).
boot.py and main.py are left out: importing them starts the firmware (tests_host/live/test_app_*
run them); so is manifest.py, which a MicroPython build reads and a board never runs.
"""

import os
import sys

FIRMWARE_ROOT = os.getenv("FIRMWARE_ROOT") or "firmware"
ENTRY_POINTS = ("boot", "main", "manifest")


def _walk(folder, prefix, found):
    for entry in sorted(os.listdir(folder)):
        path = folder + "/" + entry
        if entry == "__pycache__" or entry.startswith("."):
            continue
        if os.stat(path)[0] & 0x4000:  # S_IFDIR: a package (or namespace package)
            _walk(path, prefix + entry + ".", found)
        elif entry.endswith(".py"):
            name = entry[:-3]
            if name == "__init__":
                found.append(prefix[:-1])
            else:
                found.append(prefix + name)


def firmware_modules(root=FIRMWARE_ROOT):
    found = []
    for entry in sorted(os.listdir(root)):
        path = root + "/" + entry
        if entry == "lib":
            _walk(path, "", found)
        elif os.stat(path)[0] & 0x4000:
            if entry not in ("www",):
                _walk(path, entry + ".", found)
        elif entry.endswith(".py") and entry[:-3] not in ENTRY_POINTS:
            found.append(entry[:-3])
    return [m for m in found if m]


def test_every_firmware_module_imports():
    if FIRMWARE_ROOT != "firmware":
        sys.path.insert(0, FIRMWARE_ROOT + "/lib")
        sys.path.insert(0, FIRMWARE_ROOT)
    failures = []
    modules = firmware_modules()
    for name in modules:
        try:
            __import__(name)
        except Exception as exc:  # report every broken module, not just the first
            failures.append("%s: %s: %s" % (name, type(exc).__name__, exc))
    assert not failures, "modules that do not import on %s:\n%s" % (sys.implementation.name, "\n".join(failures))
    assert modules, "found no firmware modules under " + FIRMWARE_ROOT
