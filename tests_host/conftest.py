"""pytest plugin: every shared test module runs on CPython AND on the MicroPython unix port.

A module is *shared* unless it says ``CPYTHON_ONLY = True`` at top level. For each test function
pytest collects from a shared module, a sibling item ``name[micropython]`` is added; the first of
them runs the whole module once under ``micropython tests_host/mpy_runner.py`` and the rest read
its results. A failure on either runtime fails the suite, and the summary gives counts per
runtime. ``--runtime cpython|micropython|both`` narrows the run.

Fixture modules for CPython-only tests live in ``tests_host/fixtures/`` and are loaded here.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "shims"), str(HERE.parent / "firmware" / "lib"), str(HERE.parent / "firmware"), str(HERE)]

import cpython_runtime  # noqa: E402
import paths  # noqa: E402

cpython_runtime.install()

pytest_plugins = sorted("fixtures." + p.stem for p in (HERE / "fixtures").glob("*.py") if p.stem != "__init__")

MICROPYTHON_MODULE_TIMEOUT = 300  # seconds for one module's whole run on the unix port
MICROPYTHON_HEAP = "4m"
_CPYTHON_ONLY = re.compile(r"^CPYTHON_ONLY\s*=\s*True", re.M)


def pytest_addoption(parser):
    parser.addoption(
        "--runtime", default="both", choices=("both", "cpython", "micropython"),
        help="run shared tests on CPython, on the MicroPython unix port, or both (default)",
    )


class MicroPythonFailure(Exception):
    pass


class MicroPythonItem(pytest.Item):
    """One test function of a shared module, run on the MicroPython unix port."""

    def __init__(self, *, module_name, test_name, **kwargs):
        super().__init__(**kwargs)
        self.module_name = module_name
        self.test_name = test_name

    def runtest(self):
        results, output = _module_results(self.config, self.module_name)
        result = results.get(self.test_name) or results.get("*")
        if result is None:
            raise MicroPythonFailure(
                "MicroPython produced no result for %s.%s (did the run crash or time out?)\n%s"
                % (self.module_name, self.test_name, output[-4000:])
            )
        if result["outcome"] == "SKIP":
            pytest.skip(result["detail"] or "skipped on MicroPython")
        if result["outcome"] != "PASS":
            raise MicroPythonFailure(result["detail"] + "\n--- interpreter output ---\n" + output[-3000:])

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, MicroPythonFailure):
            return "[micropython] %s.%s failed:\n%s" % (self.module_name, self.test_name, excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, "%s::%s[micropython]" % (self.module_name, self.test_name)


def _module_results(config, module_name):
    cache = config.stash.setdefault(_results_key, {})
    if module_name not in cache:
        cmd = [paths.micropython_binary(), "-X", "heapsize=" + MICROPYTHON_HEAP,
               str(HERE / "mpy_runner.py"), module_name]
        try:
            proc = subprocess.run(
                cmd, cwd=str(paths.ROOT), env=paths.micropython_env(), capture_output=True,
                text=True, errors="replace", timeout=MICROPYTHON_MODULE_TIMEOUT,
            )
            output = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            output = "TIMEOUT after %d s\n%s" % (MICROPYTHON_MODULE_TIMEOUT, exc.stdout or "")
        results = {}
        for line in output.splitlines():
            if line.startswith("@@RESULT "):
                record = json.loads(line[len("@@RESULT "):])
                results[record["test"]] = record
        cache[module_name] = (results, output)
    return cache[module_name]


_results_key = pytest.StashKey()
_counts_key = pytest.StashKey()


def _is_shared(path):
    return path.name.startswith("test_") and not _CPYTHON_ONLY.search(path.read_text())


def pytest_collection_modifyitems(session, config, items):
    runtime = config.getoption("--runtime")
    out = []
    added = set()
    for item in items:
        module = item.getparent(pytest.Module)
        shared = module is not None and _is_shared(Path(module.path))
        if runtime != "micropython" or not shared:
            out.append(item)
        if not shared or runtime == "cpython":
            continue
        name = getattr(item, "originalname", item.name)
        key = (module.nodeid, name)
        if key in added:
            continue  # parametrized tests: MicroPython runs the plain function once
        added.add(key)
        out.append(MicroPythonItem.from_parent(
            module, name=name + "[micropython]", module_name=Path(module.path).stem, test_name=name,
        ))
    items[:] = out


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    counts = _counts.setdefault("micropython" if report.nodeid.endswith("[micropython]") else "cpython", {})
    counts[report.outcome] = counts.get(report.outcome, 0) + 1


_counts = {}


def pytest_terminal_summary(terminalreporter):
    for runtime, label in (("cpython", "CPython"), ("micropython", "MicroPython unix port")):
        c = _counts.get(runtime, {})
        terminalreporter.write_line(
            "%s: %d passed, %d failed, %d skipped" % (label, c.get("passed", 0), c.get("failed", 0), c.get("skipped", 0))
        )
