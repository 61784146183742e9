"""Files in flash that a power cut must never leave half-written.

``write_json(path, data)`` writes ``path + ".tmp"`` and renames it over ``path``: the
filesystem then holds the old file or the new one, never part of either. The config
(app.config) and the outputs' saved state (app.power_on) are written this way.
"""

import json
import os


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    # rename() replaces the target on LittleFS and POSIX; MicroPython's FAT driver removes
    # an existing target and retries (extmod/vfs_fat.c), so there is no window without a file.
    os.rename(tmp, path)
