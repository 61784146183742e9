"""Shared by the three benchmark apps: the same 2 KB page, the same JSON, the same probes.

The apps run on the MicroPython unix port, compiled to .mpy by tools/bench_http.py.
"""

import gc
import sys

# A 2048-byte HTML page, built once at start-up (deterministic, so the client can check it).
_ROW = b"<li>sensor reading, channel %02d: nominal</li>\n"
_HEAD = b"<!doctype html>\n<html><head><title>bench</title></head><body><ul>\n"
_TAIL = b"</ul></body></html>\n"
PAGE_SIZE = 2048


def make_page():
    parts = [_HEAD]
    n = len(_HEAD) + len(_TAIL)
    i = 0
    while True:
        row = _ROW % i
        if n + len(row) > PAGE_SIZE:
            break
        parts.append(row)
        n += len(row)
        i += 1
    parts.append(b" " * (PAGE_SIZE - n))
    parts.append(_TAIL)
    return b"".join(parts)


class State:
    led = False
    requests = 0
    mem0 = 0


def status():
    State.requests += 1
    return {"led": State.led, "requests": State.requests, "uptime": 1}


def mem_start():
    """Start counting allocations: collect, then disable the GC so mem_alloc only grows."""
    gc.collect()
    gc.disable()
    State.mem0 = gc.mem_alloc()
    return b"started"


def mem_stop():
    delta = gc.mem_alloc() - State.mem0
    gc.enable()
    gc.collect()
    return b"%d" % delta


def modules():
    """Names of the loaded modules: what serving the workload really pulled in."""
    return " ".join(sorted(sys.modules)).encode()


def port_from_argv(default=8080):
    return int(sys.argv[1]) if len(sys.argv) > 1 else default


def ready(name, port):
    gc.collect()
    print("ready %s on 127.0.0.1:%d heap_used=%d heap_free=%d" % (name, port, gc.mem_alloc(), gc.mem_free()))
