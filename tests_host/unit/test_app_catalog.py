"""app.catalog: the cached board/device JSON streamed in pieces equals describe() with the
current state, in any buffer size, with the length known up front (both runtimes)."""

import json

import machine
from app.catalog import Catalog, Pieces
from drivers.board import load_board
from fixtures.drivers import SIM_PORTS, board_file


def load(board_id="virtual"):
    machine.sim.configure(port=SIM_PORTS[board_id])
    return load_board(board_file(board_id), machine)


def plain(obj):
    """``obj`` as JSON gives it back (tuples become lists)."""
    return json.loads(json.dumps(obj))


def read_all(body, size):
    """The whole body through readinto() in ``size``-byte steps, as the server reads a file."""
    body.seek(0, 2)
    length = body.tell()
    body.seek(0)
    buf = bytearray(size)
    mv = memoryview(buf)
    out = b""
    while True:
        n = body.readinto(mv[1:])  # an offset view, as when the head fills the buffer's start
        if not n:
            break
        out += bytes(mv[1:1 + n])
    assert len(out) == length, (len(out), length)
    body.close()
    return out


def test_pieces_reads_across_piece_boundaries_in_any_step():
    for size in (2, 3, 8, 1025):
        body = Pieces([b"ab", b"", memoryview(b"xcde")[1:], b"f" * 700])
        assert read_all(body, size) == b"abcde" + b"f" * 700


def test_devices_and_one_device_equal_describe_with_live_state():
    board = load()
    cat = Catalog({"board": {"id": board.id, "name": board.name}, "hostname": "h"}, board.device_list)
    led = board.devices["led"]
    for size in (16, 1024):
        assert json.loads(read_all(cat.device(led), size)) == plain(led.describe())
        listed = json.loads(read_all(cat.device_list(), size))
        assert listed == plain({"devices": board.describe()})
    led.command({"on": True, "brightness": 0.5})  # state changes after the catalog was made
    now = json.loads(read_all(cat.device(led), 64))
    assert now["state"]["on"] is True and now == plain(led.describe())
    board.deinit()


def test_board_has_the_head_the_devices_and_the_live_members():
    board = load()
    head = {"board": {"id": board.id, "name": board.name}, "hostname": "porch"}
    cat = Catalog(head, board.device_list)
    live = {"wifi": {"state": "ap"}, "problems": ["x"], "auth": False}
    got = json.loads(read_all(cat.board(live), 100))
    want = {"devices": board.describe()}
    want.update(head)
    want.update(live)
    assert got == plain(want)
    board.deinit()


def test_the_catalog_keeps_far_less_than_the_json_it_serves():
    # The command schemas are rendered field by field as a body is sent, not kept rendered:
    # the catalog's heap is a fraction of the JSON of the devices it describes (objects take
    # twice the room on a 64-bit build, hence three quarters and not a half).
    import gc

    from support import IS_MICROPYTHON, skip

    if not IS_MICROPYTHON:
        skip("reads the heap with gc.mem_alloc(), which CPython lacks")
    board = load()
    gc.collect()
    before = gc.mem_alloc()
    cat = Catalog({"board": {"id": board.id, "name": board.name}, "hostname": "h"}, board.device_list)
    gc.collect()
    kept = gc.mem_alloc() - before
    served = len(read_all(cat.device_list(), 512))
    assert kept < served * 3 // 4, (kept, served)
    board.deinit()


def test_lengths_count_the_bytes_of_non_ascii_text():
    # MicroPython's json.dumps writes non-ASCII characters as they are: a rendered piece is
    # longer in bytes than in characters, and Content-Length counts bytes.
    from app.catalog import _schema_pieces

    shared = {"kind": "sensor", "commands": [{"name": "unit", "help": "température en °C"}],
              "exclusive": [], "events": ["changed"]}
    pieces, length = _schema_pieces(shared)
    for size in (5, 1024):
        text = read_all(Pieces(list(pieces), length), size)  # checks the length it was given
        assert json.loads(b"{" + text + b"}") == shared
