"""app.api.largest_free_block, which /api/health and the page's "This device" card report: the
largest block the heap can give (to within 256 bytes), found without leaving a block allocated
or the collector off (both runtimes; CPython has no heap figures)."""

import gc

from app import api
from support import IS_MICROPYTHON, raises, skip


def test_the_largest_free_block_fits_and_one_512_bytes_larger_does_not():
    if not IS_MICROPYTHON:
        assert api.largest_free_block(-1) is None  # what compat.mem_free() gives on CPython
        skip("reads the heap with gc.mem_free(), which CPython lacks")
    gc.collect()
    free = gc.mem_free()
    largest = api.largest_free_block(free)
    assert 0 < largest <= free
    assert gc.isenabled()  # the collector is held off only while searching
    gc.collect()  # the collector is conservative: a stale word in a deeper frame may hold the last try
    assert gc.mem_free() >= free - 512  # every try given back
    with raises(MemoryError):
        bytearray(largest + 512)
    block = bytearray(largest)
    assert len(block) == largest


def test_a_collector_that_was_off_stays_off():
    if not IS_MICROPYTHON:
        skip("reads the heap with gc.mem_free(), which CPython lacks")
    gc.disable()
    try:
        api.largest_free_block(gc.mem_free())
        assert not gc.isenabled()
    finally:
        gc.enable()
