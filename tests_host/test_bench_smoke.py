"""tools/bench_http.py --quick runs end to end and produces results for all three servers.

Behaviour only (no timing): every server starts on the MicroPython unix port from .mpy files,
answers the quick workloads without failures, and every measurement is filled in.
"""

import json
import subprocess
import sys

import paths

CPYTHON_ONLY = True


def test_bench_quick_reports_all_three_servers(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(paths.ROOT / "tools" / "bench_http.py"), "--quick", "--json", str(out),
         "--build-dir", str(tmp_path / "build")],
        cwd=str(paths.ROOT), capture_output=True, text=True, timeout=300,
        env=dict(paths.micropython_env(), MICROPYTHON=paths.micropython_binary()),
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["servers"] == ["microhttp", "microdot", "bare"]
    for server in res["servers"]:
        for wl in ("W", "W-KA"):
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
    assert "Throughput at a 128 KB heap" in proc.stdout
