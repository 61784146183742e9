"""Files in flash that a power cut must never leave half-written.

``write_text(path, text)`` writes ``path + ".tmp"`` and renames it over ``path``: the
filesystem then holds the old file or the new one, never part of either. ``write_json(path,
data)`` does the same with ``data`` as JSON. The config
(app.config) and the outputs' saved state (app.power_on) are written this way, side by side
(``beside``).
"""

import json
import os


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically."""
    write_text(path, json.dumps(data))


def write_text(path, text):
    """Write ``text`` to ``path`` atomically (a temporary file, then a rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    # rename() replaces the target on LittleFS and POSIX; MicroPython's FAT driver removes
    # an existing target and retries (extmod/vfs_fat.c), so there is no window without a file.
    os.rename(tmp, path)


def beside(path, name):
    """The file ``name`` in the folder of file ``path``."""
    folder = path.rpartition("/")[0]
    return folder + "/" + name if folder else name
