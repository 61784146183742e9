"""./tools/run's ports, its start on a flash that already holds firmware, and the commands it
prints: a port given on the command line is used exactly, even while a previous run's
connections wait out TIME-WAIT on it, or refused naming it when another program listens there;
the board does not run the flash's old main.py only for the deploy to interrupt it; the printed
client and mpremote commands work from a new terminal in the checkout (the virtual environment
not on PATH). 127.0.0.1 only; every run and command is bounded by a timeout."""

import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time

import launch
import paths
import pytest

CPYTHON_ONLY = True

sys.path.insert(0, str(paths.ROOT))

from tools.vboard import run as tools_run  # noqa: E402

RUN = str(paths.ROOT / "tools" / "run")
RUN_TIMEOUT = 240  # seconds: bootstrap, a build of the interpreter on first use, deploy, boot

STALE_MAIN = 'import time\nprint("stale main.py running")\nwhile True:\n    time.sleep_ms(20)\n'


def plain_bind_fails(port):
    """True when a socket without SO_REUSEADDR cannot bind ``port`` (what the old probe did)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def leave_in_time_wait():
    """A port on 127.0.0.1 whose only socket is a server-side connection in TIME-WAIT: the
    server's end closed first, as the firmware's end of a page's open connection does when a
    run stops. Returns the port once a socket without SO_REUSEADDR can no longer bind it."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    server, _ = listener.accept()
    listener.close()
    server.close()  # the server's FIN first: its end waits in FIN-WAIT-2 ...
    assert client.recv(1) == b""
    client.close()  # ... and enters TIME-WAIT when the client's FIN arrives
    deadline = time.monotonic() + 5
    while not plain_bind_fails(port):
        assert time.monotonic() < deadline, "port %d never showed TIME-WAIT to a plain bind" % port
        time.sleep(0.05)
    return port


def run_until_ready(flash, *args, env=None):
    """./tools/run --exit-when-ready: (exit code, output)."""
    out = subprocess.run([RUN, "--flash", str(flash), "--exit-when-ready", *map(str, args)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         text=True, cwd=str(paths.ROOT), timeout=RUN_TIMEOUT, env=env)
    return out.returncode, out.stdout


def own_ports():
    return ["--repl-port", launch.free_port(), "--control-port", launch.free_port()]


@pytest.mark.slow
def test_explicit_ports_in_time_wait_are_used_exactly(tmp_path):
    http_port, repl_port, control_port = leave_in_time_wait(), leave_in_time_wait(), leave_in_time_wait()
    # HTTP_PORT in the caller's environment would override the config on a simulated board.
    env = dict(os.environ, HTTP_PORT=str(launch.free_port()))
    code, out = run_until_ready(tmp_path / "flash", "--http-port", http_port, "--repl-port", repl_port,
                                "--control-port", control_port, env=env)
    assert code == 0, out
    assert "[run] the control page: http://127.0.0.1:%d/\n" % http_port in out, out
    assert "REPL socket://127.0.0.1:%d\n" % repl_port in out, out
    assert "client --port %d click button" % control_port in out, out
    assert "http: listening on http://127.0.0.1:%d/" % http_port in out, out  # the firmware's own line


def test_an_explicit_port_another_program_listens_on_is_refused_naming_it(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        code, out = run_until_ready(tmp_path / "flash", "--http-port", port, *own_ports())
    assert code == 2, out
    assert "--http-port %d: port %d on 127.0.0.1 is in use by another program" % (port, port) in out, out
    assert "[run] virtual board" not in out  # refused before the board starts


def test_the_same_port_for_two_options_is_refused(tmp_path):
    port = launch.free_port()
    code, out = run_until_ready(tmp_path / "flash", "--repl-port", port, "--control-port", port)
    assert code == 2, out
    assert "--repl-port %d and --control-port %d: each needs its own port" % (port, port) in out, out


def test_a_taken_default_port_is_replaced_and_the_run_says_so(monkeypatch):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        taken = other.getsockname()[1]
        free = launch.free_port()
        monkeypatch.setattr(tools_run, "PORT_OPTIONS", (("--http-port", "the page", taken),
                                                        ("--repl-port", "the REPL", free)))
        notes = []
        ports = tools_run.choose_ports({"--http-port": None, "--repl-port": None}, notes)
    assert ports["--repl-port"] == free
    assert ports["--http-port"] not in (taken, free)
    assert notes == ["port %d (the page's default) is taken: the page is on %d instead; --http-port N chooses one"
                     % (taken, ports["--http-port"])]


@pytest.mark.slow
def test_a_flash_with_firmware_on_it_is_deployed_without_running_its_old_main_py(tmp_path):
    # A flash that already holds a main.py, as after a previous run: the deploy would
    # interrupt it with Ctrl-C and its KeyboardInterrupt traceback would land in the log.
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "boot.py").write_text('print("boot.py ran")\n')
    (flash / "main.py").write_text(STALE_MAIN)
    code, out = run_until_ready(flash, "--http-port", launch.free_port(), *own_ports())
    assert code == 0, out
    assert "deployed: " in out and "ready: wifi connected" in out, out
    assert "stale main.py running" not in out, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out


def new_terminal_env():
    """A new terminal's environment: no virtual environment on PATH, nothing this test set."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    for name in ("MICROHTTP_CACHE", "TMPDIR"):  # where this machine keeps its builds and files
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@pytest.mark.slow
def test_the_printed_commands_work_from_a_new_terminal_in_the_checkout(tmp_path):
    proc = subprocess.Popen([RUN, "--flash", str(tmp_path / "flash"), "--http-port", str(launch.free_port()),
                             *map(str, own_ports())],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            cwd=str(paths.ROOT))
    try:
        lines = []
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or line.startswith("[run] Ctrl-C here to stop"):
                break
            lines.append(line)
        out = "".join(lines)
        assert "from another terminal in %s" % paths.ROOT in out, out
        click = re.search(r"^ +(\S.* click button)$", out, re.M).group(1)
        repl = re.search(r"^ +(\S.* connect socket://127\.0\.0\.1:\d+) repl$", out, re.M).group(1)
        env = new_terminal_env()
        done = subprocess.run(["bash", "-c", click], cwd=str(paths.ROOT), env=env,
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and '"level": 1' in done.stdout, (click, done.stdout + done.stderr)
        # The printed REPL command with `exec` in place of the interactive `repl`.
        done = subprocess.run(["bash", "-c", repl + " exec 'print(6 * 7)'"], cwd=str(paths.ROOT), env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "42" in done.stdout, (repl, done.stdout + done.stderr)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
