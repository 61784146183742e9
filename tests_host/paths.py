"""Where things are, for CPython-side test code and tools (not used on MicroPython)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
FIRMWARE_LIB = FIRMWARE / "lib"
TESTS_HOST = ROOT / "tests_host"
SIM = ROOT / "tools" / "sim"
CPYTHON_BOOT = SIM / "cpython_boot.py"  # runs a firmware-side script on CPython

# Import path shared by both runtimes: the simulated hardware first (machine, network), then
# the board's /lib and / (as on a device, where sys.path is ['', '.frozen', '/lib']), then the
# test helpers.
IMPORT_PATH = [SIM, FIRMWARE_LIB, FIRMWARE, TESTS_HOST]


# The MicroPython runtimes the tests name, and the word size of the unix-port build each runs.
MICROPYTHON_BITS = {"micropython": 64, "micropython32": 32}


def micropython_binary(bits=64):
    """The provisioned unix-port interpreter (tools/provision_micropython.py), 64-bit (like this
    machine) or 32-bit (like the boards)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import provision_micropython

    return provision_micropython.interpreter(bits)


def micropython_env(extra_paths=()):
    """Environment for the unix port: MICROPYPATH replaces the default path, keep .frozen first
    (that is where asyncio lives)."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen"] + [str(p) for p in list(extra_paths) + IMPORT_PATH])
    return env
