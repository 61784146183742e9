"""tools/build_image.py: the flash image the deploy tool and the virtual board start from."""

import gzip
import json
import sys

import paths
import pytest

CPYTHON_ONLY = True

sys.path.insert(0, str(paths.ROOT / "tools"))
import build_image  # noqa: E402


def test_image_has_firmware_boards_gzipped_page_and_config(tmp_path):
    files = build_image.build_image(tmp_path / "img", config={"hostname": "porch"})
    assert files == sorted(files)
    for required in ("boot.py", "main.py", "app/runner.py", "lib/microhttp/__init__.py",
                     "lib/drivers/board.py", "boards/virtual.json", "www/index.html.gz", "config.json"):
        assert required in files
    assert not [f for f in files if f.startswith("www/") and not f.endswith(".gz")]
    assert not [f for f in files if "__pycache__" in f]
    # Host-only code (the CPython half of microhttp.compat) never goes onto a board's flash.
    assert "microhttp/compat_cpython.py" in build_image.HOST_ONLY
    assert not [f for f in files if f[len("lib/"):] in build_image.HOST_ONLY]
    both = build_image.build_image(tmp_path / "both", config={"hostname": "porch"}, host_only=True)
    assert sorted(set(both) - set(files)) == ["lib/microhttp/compat_cpython.py"]
    for f in files:
        assert (tmp_path / "img" / f).is_file()
    page = gzip.decompress((tmp_path / "img" / "www/index.html.gz").read_bytes())
    assert page == (paths.FIRMWARE / "www" / "index.html").read_bytes()
    assert build_image.web_size(tmp_path / "img") <= build_image.WEB_BUDGET
    assert json.loads((tmp_path / "img" / "config.json").read_text()) == {"hostname": "porch"}


def test_board_choice_and_reproducible_output(tmp_path):
    a = build_image.build_image(tmp_path / "a", board_id="virtual")
    assert build_image.build_image(tmp_path / "b", board_id="virtual") == a
    assert [f for f in a if f.startswith("boards/")] == ["boards/virtual.json"]
    assert json.loads((tmp_path / "a" / "config.json").read_text()) == {"board": "virtual"}
    for f in a:  # same input, same bytes (gzip mtime 0): the page's ETag does not churn
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert "config.json" not in build_image.build_image(tmp_path / "c")
    with pytest.raises(SystemExit, match="no board definition"):
        build_image.build_image(tmp_path / "d", board_id="nonexistent")
