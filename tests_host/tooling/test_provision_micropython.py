"""tools/provision_micropython.py: the source patch applied exactly or not at all, build folders
named by what they are built from, the interpreter overrides, the prepared source kept."""

import os
import shutil
import sys

import paths
import pytest

sys.path.insert(0, str(paths.ROOT / "tools"))

import provision_micropython as provision  # noqa: E402

CPYTHON_ONLY = True

PATCH = provision.PATCHES[0]


def original_text(patch):
    """The text a unified diff expects before it applies: its context and removed lines."""
    lines = []
    for line in open(patch).read().splitlines()[2:]:
        if line.startswith("@@"):
            continue
        if line.startswith((" ", "-")):
            lines.append(line[1:])
    return "\n".join(lines) + "\n"


def tree_with_main_c(tmp_path, text):
    (tmp_path / "ports" / "unix").mkdir(parents=True)
    (tmp_path / "ports" / "unix" / "main.c").write_text(text)
    return tmp_path / "ports" / "unix" / "main.c"


def test_the_patch_applies_to_the_text_it_expects(tmp_path):
    main_c = tree_with_main_c(tmp_path, original_text(PATCH))
    provision.apply_patch(str(tmp_path), PATCH)
    assert "#if MICROPY_VFS_ROM_IOCTL && !defined(MICROHTTP_VARIANT_VFS_ROM_IOCTL)" in main_c.read_text()
    # A second time is refused (--forward): it is already there.
    with pytest.raises(provision.ProvisionError, match="main-c-variant-rom-ioctl.patch no longer applies"):
        provision.apply_patch(str(tmp_path), PATCH)


def test_a_patch_that_no_longer_fits_stops_loudly_and_leaves_the_source_alone(tmp_path):
    changed = original_text(PATCH).replace("#if MICROPY_VFS_ROM_IOCTL\n", "#if MICROPY_VFS_ROM_IOCTL_SOMETHING_NEW\n")
    main_c = tree_with_main_c(tmp_path, changed)
    with pytest.raises(provision.ProvisionError) as caught:
        provision.apply_patch(str(tmp_path), PATCH)
    assert "tools/unix_port/main-c-variant-rom-ioctl.patch no longer applies to MicroPython 1.25.0+ds-1" in str(caught.value)
    assert "update it" in str(caught.value)
    assert main_c.read_text() == changed
    assert not list(tmp_path.rglob("*.rej")) and not list(tmp_path.rglob("*.orig"))


def test_build_folders_are_named_by_what_the_build_is_made_of(tmp_path, monkeypatch):
    variant = tmp_path / "microhttp"
    shutil.copytree(provision.VARIANT_DIR, variant)
    monkeypatch.setattr(provision, "VARIANT_DIR", str(variant))
    default = provision.build_dir_name(64)
    assert default.startswith("micropython-1.25.0-r%d-" % provision.RECIPE_REVISION)
    assert default != "micropython-1.25.0"  # a plain build's name: never shared with the variant
    assert provision.build_dir_name(32) == provision.build_dir_name(32) != default
    assert provision.build_dir_name(32).endswith("-32bit")

    manifest = tmp_path / "manifest.py"
    manifest.write_text('include("$(MPY_DIR)/extmod/asyncio")\nfreeze("/somewhere")\n')
    frozen = provision.build_dir_name(64, str(manifest), name="micropython-firmware")
    assert frozen.startswith("micropython-firmware-1.25.0-") and frozen[-8:] != default[-8:]

    # The same modules frozen from two checkouts: one build, shared by both.
    names = []
    for checkout in ("/home/a/microhttp", "/work/b/microhttp"):
        monkeypatch.setattr(provision, "REPOSITORY", checkout)
        manifest.write_text('module("machine.py", base_path="%s/tools/sim")\n' % checkout)
        names.append(provision.build_dir_name(32, str(manifest), name="micropython-vboard"))
    assert names[0] == names[1]
    manifest.write_text('module("network.py", base_path="/work/b/microhttp/tools/sim")\n')
    assert provision.build_dir_name(32, str(manifest), name="micropython-vboard") != names[0]

    c_file = variant / "vfs_rom_file.c"
    c_file.write_text(c_file.read_text() + "\n// changed\n")
    assert provision.build_dir_name(64) != default


def test_the_environment_names_the_interpreter_to_use(tmp_path, monkeypatch):
    for bits, variable in ((64, "MICROPYTHON"), (32, "MICROPYTHON32")):
        own = tmp_path / ("micropython%d" % bits)
        own.write_text("")
        monkeypatch.setenv(variable, str(own))
        assert provision.interpreter(bits) == str(own)
        monkeypatch.setenv(variable, str(tmp_path / "missing"))  # not there: the cached build
        assert provision.interpreter(bits) == provision.interpreter_path(bits=bits)


def test_the_prepared_source_is_kept_with_the_patch_applied():
    with provision.cache_lock():
        tree = provision.source_tree()
    main_c = open(tree + "/ports/unix/main.c").read()
    assert "!defined(MICROHTTP_VARIANT_VFS_ROM_IOCTL)" in main_c
    assert tree.startswith(provision.source_dir())
    assert os.path.exists(tree + "/mpy-cross/build/mpy-cross")
