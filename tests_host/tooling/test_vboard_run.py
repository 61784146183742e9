"""The README's run command (tools/run) end to end: bootstrap, build, virtual board, deploy over
mpremote socket://, soft reset, the page served; then real mpremote against the running board."""

import re
import signal
import subprocess
import sys
import time

import httpx
import launch
import paths
import pytest

CPYTHON_ONLY = True


def start_run(flash, http_port):
    proc = subprocess.Popen(
        [str(paths.ROOT / "tools" / "run"), "--flash", str(flash), "--http-port", str(http_port),
         "--repl-port", str(launch.free_port()), "--control-port", str(launch.free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        cwd=str(paths.ROOT),
    )
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("[run] Ctrl-C here to stop"):
            return proc, "".join(lines)
    proc.kill()
    raise AssertionError("tools/run never got ready:\n" + "".join(lines))


def stop_run(proc):
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=30)[0]
    return proc.returncode, out


def mpremote(url, *args):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", url, *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_run_serves_the_page_and_answers_mpremote(tmp_path):
    flash = tmp_path / "flash"
    http_port = launch.free_port()
    proc, out = start_run(flash, http_port)
    try:
        page = re.search(r"the control page: (http://127\.0\.0\.1:\d+/)", out).group(1)
        repl = re.search(r"mpremote connect (socket://127\.0\.0\.1:\d+) repl", out).group(1)
        control = int(re.search(r"client --port (\d+) click button", out).group(1))
        assert "deployed: " in out and "ready: wifi connected" in out
        # The virtual ESP32 has a ROMFS partition, so the deploy puts the modules there.
        assert "128 KB ROMFS partition" in out and "form: ROMFS: " in out

        r = httpx.get(page, timeout=10)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]

        click = subprocess.run([sys.executable, "-m", "tools.vboard.client", "--port", str(control), "click", "button"],
                               capture_output=True, text=True, timeout=30, cwd=str(paths.ROOT))
        assert click.returncode == 0 and '"level": 1' in click.stdout  # released again after the click

        local = tmp_path / "note.txt"
        local.write_text("from the host\n")
        r = mpremote(repl, "ls", "+", "cp", str(local), ":note.txt", "+", "exec",
                     "print(open('note.txt').read().strip())", "+", "soft-reset")
        assert r.returncode == 0, r.stdout + r.stderr
        # The code is in the ROMFS image, mounted at /rom; no app/ on the flash.
        assert "main.py" in r.stdout and "rom/" in r.stdout and "app/" not in r.stdout, r.stdout
        assert "from the host" in r.stdout
        assert (flash / "note.txt").read_text() == "from the host\n"
    finally:
        code, rest = stop_run(proc)
    assert code == 0 and "[run] stopped" in rest

    # A second run over the same flash (and the same config) copies nothing.
    proc, out = start_run(flash, http_port)
    stop_run(proc)
    assert "deployed: 0 copied, 0 deleted, " in out and "ROMFS image unchanged" in out
