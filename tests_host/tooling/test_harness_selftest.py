"""The harness catches CPython-only code under firmware/ (issue 2, "done when").

A copy of the firmware tree gets one module with a CPython-only construct; the static checks
must reject it, and the shared import test must fail on the MicroPython unix port (both of its
builds), which fails the whole pytest run even though CPython imports the module happily.
"""

import os
import shutil
import subprocess
import sys

import paths
import pytest

CPYTHON_ONLY = True

BAD_MODULES = {
    "dataclass": "from dataclasses import dataclass\n\n@dataclass\nclass Reading:\n    value: int = 0\n",
    "runtime_typing": "from typing import List\n\ndef names() -> List[str]:\n    return []\n",
}


@pytest.fixture
def broken_firmware(tmp_path, request):
    tree = tmp_path / "firmware"
    shutil.copytree(paths.FIRMWARE, tree, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "lib").mkdir(exist_ok=True)
    (tree / "lib" / "sensor_model.py").write_text(BAD_MODULES[request.param])
    return tree


@pytest.mark.parametrize("broken_firmware", sorted(BAD_MODULES), indirect=True)
def test_static_checks_reject_cpython_only_code(broken_firmware):
    proc = subprocess.run(
        [sys.executable, str(paths.ROOT / "tools" / "check_firmware.py"), "--firmware", str(broken_firmware),
         "--only", "compile,portability"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "sensor_model.py:1: imports" in proc.stdout
    assert "MicroPython on ESP32/RP2 does not have" in proc.stdout


@pytest.mark.parametrize("broken_firmware", sorted(BAD_MODULES), indirect=True)
def test_suite_fails_on_micropython_but_not_cpython(broken_firmware):
    env = dict(os.environ, FIRMWARE_ROOT=str(broken_firmware))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         str(paths.TESTS_HOST / "unit" / "test_firmware_imports.py")],
        capture_output=True, text=True, env=env, cwd=str(paths.ROOT), timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    for build in ("micropython", "micropython32"):  # the 64-bit and the 32-bit build
        assert "FAILED tests_host/unit/test_firmware_imports.py::test_every_firmware_module_imports[%s]" % build in out
    assert "sensor_model" in out
    # CPython has dataclasses and typing: only the real interpreter exposes the problem.
    assert "2 failed, 1 passed" in out
