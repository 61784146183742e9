# Runs shared test modules on the MicroPython unix port and reports one line per test.
#
# Invoked by tests_host/conftest.py as ``micropython tests_host/mpy_runner.py MODULE...`` with
# MICROPYPATH set to the module's folder (tests_host/unit), tools/sim, firmware/lib, firmware and
# tests_host. Each result is one line:
#   @@RESULT <json: {"module", "test", "outcome": PASS|FAIL|SKIP, "detail"}>
# Anything else a test prints passes through and is shown by pytest on failure.
import gc
import io
import json
import sys

import support


def report(module, test, outcome, detail=""):
    print("@@RESULT " + json.dumps({"module": module, "test": test, "outcome": outcome, "detail": detail}))


def traceback_text(exc):
    buf = io.StringIO()
    sys.print_exception(exc, buf)
    return buf.getvalue()


def run_module(name):
    try:
        module = __import__(name)
    except Exception as exc:  # an import failure fails every test of the module
        report(name, "*", "FAIL", "import failed on MicroPython:\n" + traceback_text(exc))
        return
    for test in sorted(n for n in dir(module) if n.startswith("test_")):
        fn = getattr(module, test)
        if not callable(fn):
            continue
        try:
            fn()
        except support.Skip as exc:
            report(name, test, "SKIP", str(exc))
        except Exception as exc:
            report(name, test, "FAIL", traceback_text(exc))
        else:
            report(name, test, "PASS")
        gc.collect()


for arg in sys.argv[1:]:
    run_module(arg)
print("@@DONE")
