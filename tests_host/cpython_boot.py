"""Run a firmware-side script on CPython the way the MicroPython tests run it: the simulated
hardware (tools/sim) and firmware on sys.path, MicroPython APIs installed. Usage: python cpython_boot.py SCRIPT [ARGS...]"""

import runpy
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path[:0] = [str(here.parent / "tools" / "sim"), str(here.parent / "firmware" / "lib"), str(here.parent / "firmware"),
                 str(here)]
import cpython_runtime  # noqa: E402

cpython_runtime.install()
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
