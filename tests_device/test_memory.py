"""The firmware's heap right after a boot: only what the configuration uses is loaded, the
start-up code has left RAM, and the free heap is in one piece.

Without a password in the session's config (the virtual board's has none), the login code
must not be loaded. Read on
a freshly reset board, through the virtual board's control channel while the firmware runs
(on a real board the loaded modules are read from the REPL after stopping it)."""

import time

import pytest

# Loaded only by a configuration that uses them, or only while the board starts.
NOT_LOADED = (
    "app.startup",  # start-up: released once the firmware serves
    "app.config",  # the config loader: imported again only when a setting is saved
    "drivers.board",  # the board-file loader and checker
    "drivers.chips",  # the chips' pin facts, for the checker
    "app.access",  # login: only with auth.password set
    "microhttp.passwords",
    "microhttp.auth",
    "microhttp.crypto",
    "app.dns",  # the captive portal: only in access-point mode
    "app.bindings",  # button bindings: only when config.json has some (or one is set)
    "app.settings",  # the settings: loaded by each request under /api/settings, gone after it
)
LOGIN = ("app.access", "microhttp.passwords", "microhttp.crypto")


def loaded_modules(device):
    if device.control is not None:
        return device.control.modules()
    out = device.onboard("import sys; print(' '.join(sorted(sys.modules)))")
    return out.split()


def test_only_what_the_configuration_uses_is_loaded(firmware):
    firmware.mpremote("reset")
    firmware.firmware_running = False
    firmware.ensure_firmware()
    # The server answers while start-up still joins Wi-Fi; start-up is released after that.
    deadline = time.monotonic() + 30
    modules = loaded_modules(firmware)
    password = firmware.config.get("auth", {}).get("password")
    while "app.startup" in modules and time.monotonic() < deadline:
        time.sleep(0.2)
        modules = loaded_modules(firmware)
    assert "app.runner" in modules and "microhttp.server" in modules
    unused = [name for name in NOT_LOADED if not (password and name in LOGIN)]
    assert [name for name in unused if name in modules] == []
    if password:
        assert all(name in modules for name in LOGIN)


def test_the_free_heap_is_in_one_piece_after_boot(firmware):
    if firmware.control is None:
        pytest.skip("needs the virtual board's control channel (the largest free block while the firmware runs)")
    firmware.mpremote("reset")
    firmware.firmware_running = False
    firmware.ensure_firmware()
    deadline = time.monotonic() + 30
    while "app.startup" in firmware.control.modules() and time.monotonic() < deadline:
        time.sleep(0.2)
    mem = firmware.control.mem(largest=True)
    firmware.report["free_heap_after_reset"] = mem["free"]
    firmware.report["largest_free_block_after_reset"] = mem["largest"]
    # Start-up keeps what lives for the whole run packed at the bottom of the heap: most of
    # the free heap is one block, not holes between long-lived objects. The start-up code
    # itself is loaded first and released last: from .mpy files its bytecode leaves a hole
    # below everything (which small allocations fill first), so the holes may be as large as
    # what it takes, measured here after a soft reset with what it imports loaded already.
    holes = mem["free"] - mem["largest"]
    if mem["largest"] < mem["free"] * 2 // 3:
        startup = int(firmware.onboard(BOOT_ONLY_HEAP).split()[-1])
        firmware.report["heap_of_the_start_up_code"] = startup
        assert holes <= startup, (mem, startup)


# The heap app.startup and app.config take (the boot-only code that app.runner releases once
# the firmware serves), on top of what they import.
BOOT_ONLY_HEAP = """
import gc
import app.firmware, app.wifi, microhttp.compat
gc.collect()
before = gc.mem_alloc()
import app.config, app.startup
gc.collect()
print(gc.mem_alloc() - before)
"""
