"""pytest plugin: every shared test module runs on CPython AND on the MicroPython unix port, in
its 64-bit build (like this machine) and its 32-bit build (like the boards: half-size objects
and heap blocks, 31-bit small integers).

The test modules are grouped by what they need: ``unit/`` (in process), ``live/`` (servers and
the virtual board over 127.0.0.1), ``browser/`` (Chromium) and ``tooling/`` (the tools' own tests).
A module is *shared* unless it says ``CPYTHON_ONLY = True`` at top level, wherever it lives (the
shared ones are all in ``unit/``). For each test function pytest collects from a shared module,
sibling items ``name[micropython]`` and ``name[micropython32]`` are added; the first of each runs
the whole module once under ``micropython tests_host/mpy_runner.py``, with the module's folder on
the import path, and the rest read its results. A failure on any runtime
fails the suite, and the summary gives counts per runtime. ``--runtime`` narrows the run:
``cpython``, ``micropython`` (both builds), ``micropython64``, ``micropython32``; the default is
``all``.

Fixture modules for CPython-only tests live in ``tests_host/fixtures/`` and are loaded here.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tools" / "sim"), str(HERE.parent / "firmware" / "lib"), str(HERE.parent / "firmware"),
                 str(HERE)]

import cpython_runtime  # noqa: E402
import paths  # noqa: E402

cpython_runtime.install()

pytest_plugins = sorted("fixtures." + p.stem for p in (HERE / "fixtures").glob("*.py") if p.stem != "__init__")

MICROPYTHON_MODULE_TIMEOUT = 300  # seconds for one module's whole run on the unix port
MICROPYTHON_HEAP = "4m"
MICROPYTHONS = paths.MICROPYTHON_BITS  # item suffix -> the word size of the build it runs on
_CPYTHON_ONLY = re.compile(r"^CPYTHON_ONLY\s*=\s*True", re.M)


def pytest_addoption(parser):
    parser.addoption(
        "--runtime", default="all", choices=("all", "cpython", "micropython", "micropython64", "micropython32"),
        help="run shared tests on CPython, on the MicroPython unix port (micropython: its 64-bit "
             "and 32-bit builds; micropython64 or micropython32: one of them), or all (default)",
    )


class MicroPythonFailure(Exception):
    pass


class MicroPythonItem(pytest.Item):
    """One test function of a shared module, run on the MicroPython unix port."""

    def __init__(self, *, module_name, test_name, runtime, **kwargs):
        super().__init__(**kwargs)
        self.module_name = module_name
        self.test_name = test_name
        self.runtime = runtime

    def runtest(self):
        results, output = _module_results(self.config, self.path, self.runtime)
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
            return "[%s] %s.%s failed:\n%s" % (self.runtime, self.module_name, self.test_name, excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, "%s::%s[%s]" % (self.module_name, self.test_name, self.runtime)


def _module_results(config, module_path, runtime):
    cache = config.stash.setdefault(_results_key, {})
    key = (runtime, module_path)
    if key not in cache:
        cmd = [paths.micropython_binary(MICROPYTHONS[runtime]), "-X", "heapsize=" + MICROPYTHON_HEAP,
               str(HERE / "mpy_runner.py"), module_path.stem]
        try:
            proc = subprocess.run(
                cmd, cwd=str(paths.ROOT), env=paths.micropython_env([module_path.parent]), capture_output=True,
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
        cache[key] = (results, output)
    return cache[key]


_results_key = pytest.StashKey()
_counts_key = pytest.StashKey()


def _is_shared(path):
    return path.name.startswith("test_") and not _CPYTHON_ONLY.search(path.read_text())


_SELECTED = {"all": ("cpython", "micropython", "micropython32"), "cpython": ("cpython",),
             "micropython": ("micropython", "micropython32"), "micropython64": ("micropython",),
             "micropython32": ("micropython32",)}


def pytest_collection_modifyitems(session, config, items):
    runtimes = _SELECTED[config.getoption("--runtime")]
    out = []
    # Each MicroPython runtime's items come after CPython's, grouped by runtime: a module's run
    # in one build finishes before the other build starts.
    later = {r: [] for r in MICROPYTHONS if r in runtimes}
    added = set()
    for item in items:
        module = item.getparent(pytest.Module)
        shared = module is not None and _is_shared(Path(module.path))
        if "cpython" in runtimes or not shared:
            out.append(item)
        if not shared:
            continue
        name = getattr(item, "originalname", item.name)
        key = (module.nodeid, name)
        if key in added:
            continue  # parametrized tests: MicroPython runs the plain function once
        added.add(key)
        for runtime, group in later.items():
            group.append(MicroPythonItem.from_parent(
                module, name="%s[%s]" % (name, runtime), module_name=Path(module.path).stem,
                test_name=name, runtime=runtime,
            ))
    items[:] = out + [item for group in later.values() for item in group]


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    runtime = report.nodeid.rsplit("[", 1)[-1].rstrip("]")
    counts = _counts.setdefault(runtime if runtime in MICROPYTHONS else "cpython", {})
    counts[report.outcome] = counts.get(report.outcome, 0) + 1


_counts = {}


def pytest_terminal_summary(terminalreporter):
    labels = [("cpython", "CPython")] + [(r, "MicroPython unix port, %d-bit" % b) for r, b in MICROPYTHONS.items()]
    for runtime, label in labels:
        c = _counts.get(runtime, {})
        terminalreporter.write_line(
            "%s: %d passed, %d failed, %d skipped" % (label, c.get("passed", 0), c.get("failed", 0), c.get("skipped", 0))
        )
