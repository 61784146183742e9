"""Start firmware-side scripts as real processes on either runtime (CPython-side helper).

    with launch.start("micropython", "tests_host/apps/echo_app.py", args=["--port", port],
                      heapsize="64k", ready="listening") as proc:
        ... talk to 127.0.0.1:port ...
    proc.output  # everything it printed

Network tests use 127.0.0.1 only; every process is stopped when the block ends.
"""

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time

import paths

# Where the server tests run: CPython, and the unix port's 64-bit and 32-bit builds (the boards
# are 32-bit). The app's API and browser tests use APP_RUNTIMES: they exercise the app, whose
# server the server tests already cover on both builds.
RUNTIMES = ("cpython", "micropython", "micropython32")
APP_RUNTIMES = ("cpython", "micropython")


def is_micropython(runtime):
    return runtime in paths.MICROPYTHON_BITS


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(runtime, script, args=(), heapsize=None):
    script = str(script)
    if runtime == "cpython":
        return [sys.executable, "-u", str(paths.CPYTHON_BOOT), script] + [str(a) for a in args]
    if is_micropython(runtime):
        cmd = [paths.micropython_binary(paths.MICROPYTHON_BITS[runtime])]
        if heapsize:
            cmd += ["-X", "heapsize=" + str(heapsize)]
        return cmd + [script] + [str(a) for a in args]
    raise ValueError("unknown runtime %r (expected one of %s)" % (runtime, RUNTIMES))


class Process:
    def __init__(self, cmd, env, cwd, ready, timeout):
        self.cmd = cmd
        self._lines = []
        self._ready = threading.Event()
        self._pattern = re.compile(ready) if ready else None
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace",
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if self._pattern is not None and not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError(
                "%s did not print %r within %s s; output:\n%s" % (" ".join(cmd), ready, timeout, self.output)
            )

    def _pump(self):
        for line in self.proc.stdout:
            self._lines.append(line)
            if self._pattern is not None and self._pattern.search(line):
                self._ready.set()
        self._ready.set()

    @property
    def output(self):
        return "".join(self._lines)

    def wait_for(self, pattern, timeout=10):
        """Wait until the process has printed a line matching ``pattern``; return that line."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self._lines):
                if rx.search(line):
                    return line
            if self.proc.poll() is not None and not any(rx.search(x) for x in list(self._lines)):
                break
            time.sleep(0.02)
        raise AssertionError("no line matching %r within %s s; output:\n%s" % (pattern, timeout, self.output))

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=5):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start(runtime, script, args=(), heapsize=None, ready=None, timeout=20, env=None, cwd=None, extra_paths=()):
    """Start ``script`` on ``runtime`` with the firmware's import path; wait for ``ready``."""
    if is_micropython(runtime):
        full_env = paths.micropython_env(extra_paths)
    else:
        full_env = dict(os.environ)
        # After the simulation and the firmware (cpython_boot puts them first), as on the unix port.
        full_env["PYTHONPATH"] = os.pathsep.join(str(p) for p in list(extra_paths) + [paths.TESTS_HOST])
    full_env.update(env or {})
    full_env["PYTHONUNBUFFERED"] = "1"
    return Process(command(runtime, script, args, heapsize), full_env, str(cwd or paths.ROOT), ready, timeout)


@contextlib.contextmanager
def serve_app(runtime, app, args=(), heapsize=None, compiled=None):
    """Start the test app ``tests_host/apps/<app>`` on ``runtime`` with a free port as its first
    argument, and wait until it listens; the Process, with ``.port`` and ``.url``. ``compiled``:
    a directory holding microhttp compiled to .mpy, imported on MicroPython ahead of the source."""
    port = free_port()
    extra = [compiled] if compiled is not None and is_micropython(runtime) else ()
    with start(runtime, paths.TESTS_HOST / "apps" / app, args=[port] + list(args), heapsize=heapsize,
               ready="listening", extra_paths=extra) as proc:
        proc.port = port
        proc.url = "http://127.0.0.1:%d" % port
        yield proc
