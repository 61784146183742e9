"""The firmware has no import cycles (issue 17), as tools/import_graph.py reads its imports; the
tool itself finds a cycle, a lazy import and a relative one in a small made-up tree."""

import subprocess
import sys

import paths

CPYTHON_ONLY = True

sys.path.insert(0, str(paths.ROOT / "tools"))

import import_graph  # noqa: E402


def test_the_firmware_has_no_import_cycles():
    graph = import_graph.build_graph(paths.FIRMWARE)
    assert "microhttp.server" in graph and "app.runner" in graph and "drivers.button" in graph
    assert "manifest" not in graph  # a build description, never imported on a board
    assert graph["microhttp.server"].keys() >= {"microhttp.h1", "microhttp.compat"}
    assert import_graph.cycles(graph) == []


def test_the_command_exits_0_without_cycles():
    out = subprocess.run([sys.executable, str(paths.ROOT / "tools" / "import_graph.py"), "--package", "microhttp"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert " import levels, 0 import cycles" in out.stdout


def _tree(tmp_path, files):
    for name, source in files.items():
        path = tmp_path / "firmware" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return tmp_path / "firmware"


def test_a_lazy_import_that_closes_a_loop_is_a_cycle(tmp_path):
    firmware = _tree(tmp_path, {
        "lib/pkg/__init__.py": "from pkg.core import Thing\n",
        "lib/pkg/core.py": "import os\nfrom pkg import helper\n",
        "lib/pkg/helper.py": "def later():\n    from pkg.core import Thing\n",
        "lib/pkg/leaf.py": "from . import errors\n",
        "lib/pkg/errors.py": "",
        "main.py": "import pkg\n",
        "manifest.py": "import main\n",
    })
    graph = import_graph.build_graph(firmware)
    assert set(graph) == {"pkg", "pkg.core", "pkg.helper", "pkg.leaf", "pkg.errors", "main"}
    assert import_graph.cycles(graph) == [["pkg.core", "pkg.helper"]]
    assert graph["pkg.leaf"] == {"pkg.errors": 1}  # relative, to the module, not the package
    levels = import_graph.levels(graph)
    assert levels["pkg.errors"] == 1 and levels["pkg.leaf"] == 2
    assert levels["pkg.core"] == levels["pkg.helper"] == 1 and levels["pkg"] == 2 and levels["main"] == 3
    # Only the imports that run as a module loads: the lazy one is left out, so no cycle.
    load_time = import_graph.build_graph(firmware, load_time=True)
    assert import_graph.cycles(load_time) == [] and load_time["pkg.helper"] == {}
    assert import_graph.main(["--firmware", str(firmware)]) == 1
