"""tools/bench_http.py --quick runs end to end and produces results for all three servers.

Behaviour only (no timing): every server starts on the MicroPython unix port from .mpy files,
answers the quick workloads without failures, and every measurement is filled in.
"""

import json
import subprocess
import sys

import paths

CPYTHON_ONLY = True


def _quick_bench(tmp_path, name, *options):
    """Run ``bench_http.py --quick`` with ``options``; return (its results, its output)."""
    out = tmp_path / (name + ".json")
    proc = subprocess.run(
        [sys.executable, str(paths.ROOT / "tools" / "bench_http.py"), "--quick", *options, "--json", str(out),
         "--build-dir", str(tmp_path / ("build-" + name))],
        cwd=str(paths.ROOT), capture_output=True, text=True, timeout=300,
        env=dict(paths.micropython_env(), MICROPYTHON=paths.micropython_binary()),
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def test_bench_quick_reports_all_three_servers(tmp_path):
    res, stdout = _quick_bench(tmp_path, "bench")
    assert res["servers"] == ["microhttp", "microdot", "bare"]
    for server in res["servers"]:
        for wl in ("W", "W-KA", "P", "P-KA"):
            t = res["throughput"][server][wl]
            assert t["ok"] == res["requests"] and t["failures"] == 0, (server, wl, t)
            assert t["req_per_s"] > 0 and t["p50_ms"] is not None
        assert res["alloc"][server]["close_status"] > 0, server
    # Keep-alive really reuses connections where the server supports it; Microdot closes.
    assert res["throughput"]["bare"]["W-KA"]["connections"] <= res["clients"]
    assert res["throughput"]["microdot"]["W-KA"]["connections"] == res["requests"]
    for name in ("microhttp", "microdot"):
        assert res["import"][name]["import_bytes"] > 0, res["import"][name]
    assert res["sizes"]["microdot"]["microdot"] > 0
    assert "static" in res["sizes"]["microhttp"]
    assert "Throughput at a 128 KB heap" in stdout
    # Phone heads are bigger: every server allocates more per request for them than for Host
    # alone. microhttp keeps the field lines as text and cuts out the values read: the extra
    # is under half of what the bare server's string per field line costs.
    extra = {}
    for server in res["servers"]:
        alloc = res["alloc"][server]
        assert alloc["phone_close_status"] > alloc["close_status"], server
        extra[server] = alloc["phone_close_status"] - alloc["close_status"]
    assert extra["microhttp"] < extra["bare"] / 2, extra


def _bench():
    sys.path.insert(0, str(paths.ROOT / "tools"))
    import bench_http

    return bench_http


def test_phone_heads_are_a_phone_browsers_size_and_parse():
    bench = _bench()
    requests, keep, close = bench.HEADS["phone"]
    assert [name for name, _ in requests] == [name for name, _ in bench.PLAIN]
    for _, template in requests:
        for field in (keep, close):
            head = template % field
            assert 540 <= bench.head_fields_size(template, field) <= 710, head
            names = [line.split(b":")[0].lower() for line in head.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]]
            assert len(names) == len(set(names)), names  # no field twice
            for name in (b"host", b"user-agent", b"sec-ch-ua", b"cookie", b"accept-language", b"connection"):
                assert name in names, (name, head)


def _floor_search(passes_from, flaky=()):
    """find_floor over a fake probe that holds from ``passes_from`` KB up, except at the
    (heap, nth probe of that heap) pairs in ``flaky``; returns (floor, the heaps probed in order)."""
    bench = _bench()
    probed = []

    def probe(kb):
        probed.append(kb)
        if (kb, probed.count(kb)) in flaky:
            return False
        return kb >= passes_from

    return bench.find_floor(probe, 4, 128), probed


def test_floor_search_bisects_then_confirms_twice():
    floor, probed = _floor_search(52)
    assert floor == 52
    assert probed[-2:] == [52, 52] and len(probed) <= 9, probed


def test_floor_search_steps_up_when_a_confirmation_fails():
    floor, probed = _floor_search(52, flaky=[(52, 3)])  # the bisection's and one confirmation pass
    assert floor == 56 and probed[-5:] == [52, 52, 52, 56, 56], probed
    floor, probed = _floor_search(200)
    assert floor is None and max(probed) == 128, probed


def _quick_import_bytes(tmp_path, form):
    res, _ = _quick_bench(tmp_path, form, "--servers", "microhttp", "--form", form)
    for wl in ("W", "W-KA", "P", "P-KA"):
        assert res["throughput"]["microhttp"][wl]["failures"] == 0, res["throughput"]["microhttp"][wl]
    return res["import"]["microhttp"]["import_bytes"]


def test_bench_romfs_form_serves_with_the_code_out_of_the_heap(tmp_path):
    # Run in place from the ROMFS image, the modules' bytecode is not in the heap: importing
    # the library takes several KB less than from .mpy files.
    from_files = _quick_import_bytes(tmp_path, "mpy")
    in_place = _quick_import_bytes(tmp_path, "romfs")
    assert in_place < from_files - 4096, (in_place, from_files)
