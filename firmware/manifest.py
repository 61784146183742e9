# The firmware's code for a MicroPython build with it frozen in (docs: "MicroPython manifest
# files"): its bytecode then runs from the firmware image in flash, and only the objects it
# makes take heap. Not a module: the build reads it, a board never does (tools/build_image.py
# leaves it out). Include it from a manifest that also includes your port's own, e.g. for an
# ESP32:
#
#     include("$(PORT_DIR)/boards/manifest.py")
#     include("/path/to/this/repository/firmware/manifest.py")
#
# and build with `make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/that/manifest.py` (rp2:
# `make BOARD=RPI_PICO_W FROZEN_MANIFEST=...`). boot.py, main.py, config.json, boards/ and
# www/ stay on the board's filesystem: tools/deploy.py puts them there (it sees that the
# board's MicroPython has the firmware frozen in, and copies no code).
metadata(description="microhttp firmware: HTTP server, drivers and the control-page app", version="0.1.0")

import os  # noqa: E402 - the build runs this file with its functions (metadata, package) defined

# Every module of each package, but not microhttp's CPython half (tools/build_image.py HOST_ONLY).
HOST_ONLY = ("compat_cpython.py",)
for base, name in (("lib", "microhttp"), ("lib", "drivers"), (".", "app")):
    files = sorted(f for f in os.listdir(os.path.join(base, name)) if f.endswith(".py") and f not in HOST_ONLY)
    package(name, files=files, base_path=base)
