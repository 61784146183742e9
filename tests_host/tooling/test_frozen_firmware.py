"""The frozen deploy form: the unix port built with firmware/manifest.py frozen in (as a board's
MicroPython would be), booting the firmware from its frozen modules, with tools/deploy.py
copying only data to the flash and removing code an earlier deploy left there."""

import json
import subprocess
import sys

import httpx
import paths

sys.path[:0] = [str(paths.ROOT), str(paths.ROOT / "tools")]

import deploy  # noqa: E402
from fixtures.vboard import Log  # noqa: E402

from tools.vboard.supervisor import Supervisor, free_port  # noqa: E402

CPYTHON_ONLY = True
WIFI = ("frozenlab", "frozenlab-pass")


def test_the_manifest_freezes_every_module_a_board_image_holds(tmp_path):
    # What firmware/manifest.py freezes is exactly the code tools/build_image.py puts on a board.
    import build_image

    source = subprocess.run([sys.executable, str(paths.ROOT / "tools" / "provision_micropython.py"), "--source"],
                            capture_output=True, text=True, check=True).stdout.strip()
    listed = subprocess.run(
        [sys.executable, source + "/tools/manifestfile.py", "--freeze", "--top", source,
         str(paths.ROOT / "firmware" / "manifest.py")], capture_output=True, text=True, check=True).stdout
    frozen = sorted(part.split("'")[1] for part in listed.split("target_path=")[1:])
    image = build_image.build_image(tmp_path / "image")
    code = sorted(rel.split("/", 1)[1] if rel.startswith("lib/") else rel for rel in image
                  if rel.endswith(".py") and rel not in ("boot.py", "main.py"))
    assert frozen == code


def test_the_firmware_boots_from_its_frozen_modules_and_deploy_copies_only_data(tmp_path):
    flash = tmp_path / "flash"
    http_port = free_port()
    config = tmp_path / "device_config.json"
    config.write_text(json.dumps({"http_port": http_port, "dns_port": 0,
                                  "wifi": {"networks": [{"ssid": WIFI[0], "password": WIFI[1]}]}}))
    wifi = ["%s=%s" % WIFI]
    # First a board with stock MicroPython: every module as an .mpy on its filesystem.
    with Supervisor(flash, board="virtual", log=Log(), wifi=wifi, bits=32, romfs_size=0) as sup:
        first = deploy.deploy(sup.url, "virtual", str(config), follow=30, until=r"^ready: ")
        assert first["form"] == "filesystem" and "app/runner.mpy" in first["copied"]
    # Then the same flash on a board flashed with the firmware frozen in.
    log = Log()
    with Supervisor(flash, board="virtual", log=log, wifi=wifi, bits=32, romfs_size=0, frozen=True) as sup:
        result = deploy.deploy(sup.url, "virtual", str(config), follow=30, until=r"^ready: ")
        assert result["form"] == "frozen" and result["ready"], result
        assert result["copied"] == []  # boot.py, main.py, config and assets were there already
        assert "app/runner.mpy" in result["deleted"] and "lib/microhttp/server.mpy" in result["deleted"]
        on_flash = sorted(p.relative_to(flash).as_posix() for p in flash.rglob("*") if p.is_file())
        assert [p for p in on_flash if p.endswith((".py", ".mpy")) and p not in ("boot.py", "main.py")] == []
        r = httpx.get("http://127.0.0.1:%d/api/board" % http_port, timeout=10)
        assert r.status_code == 200 and r.json()["board"]["id"] == "virtual"
        r = subprocess.run([sys.executable, "-m", "mpremote", "connect", sup.url, "exec",
                            "import microhttp.server, app.runner\nprint(microhttp.server.__file__, app.runner.__file__)"],
                           capture_output=True, text=True, timeout=60)
        # A frozen module's file is its name inside the firmware image, not a path on the flash.
        assert r.stdout.split() == ["microhttp/server.py", "app/runner.py"], r
