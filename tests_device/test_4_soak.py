"""Soak: a bounded number of API requests from --soak-clients keep-alive clients (default 4: a
phone page opens a few parallel connections; rp2's lwIP has 5 TCP PCBs). Records free heap idle, under load and after,
requests per second and latency into the device report; fails on any error answer or on heap
that does not come back."""

import statistics
import threading
import time

import httpx

LEAK_ALLOWANCE = 1024  # bytes: one or two GC blocks of noise between two collected readings


def test_soak_no_errors_and_no_heap_growth(firmware, request):
    total = request.config.getoption("--soak")
    CLIENTS = request.config.getoption("--soak-clients")
    per_client = max(1, total // CLIENTS)
    base = firmware.http
    # Warm up: every route once, so lazily built things (sessions, buffers) exist before "before".
    with httpx.Client(base_url=base, timeout=10) as c:
        for path in ("/api/board", "/api/devices", "/api/health", "/api/devices/led"):
            c.get(path)
    time.sleep(0.5)
    before = firmware.health()["free_heap"]

    latencies, errors, under_load = [], [], []
    lock = threading.Lock()

    def worker(index):
        mine = []
        with httpx.Client(base_url=base, timeout=10) as c:
            for i in range(per_client):
                path = "/api/devices" if i % 2 else "/api/board"
                t0 = time.perf_counter()
                try:
                    r = c.get(path)
                    ok = r.status_code == 200
                    # microhttp answers 503 with Retry-After when over max_conns, without when
                    # a handler ran out of memory
                    why = r.status_code if r.status_code != 503 else (
                        "503 busy" if "retry-after" in r.headers else "503 out of memory")
                except httpx.HTTPError as exc:
                    ok, why = False, repr(exc)
                mine.append(time.perf_counter() - t0)
                if not ok:
                    with lock:
                        errors.append((path, why))
                if index == 0 and i % 100 == 50:
                    h = c.get("/api/health")
                    if h.status_code == 200:
                        with lock:
                            under_load.append(h.json()["free_heap"])
        with lock:
            latencies.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    time.sleep(0.5)
    after = firmware.health()["free_heap"]

    latencies.sort()
    report = firmware.report
    report["soak_requests"] = len(latencies)
    report["soak_clients"] = CLIENTS
    report["soak_errors"] = len(errors)
    report["requests_per_s"] = round(len(latencies) / elapsed, 1)
    report["latency_ms"] = {
        "median": round(statistics.median(latencies) * 1000, 2),
        "p95": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "max": round(latencies[-1] * 1000, 2),
    }
    report["free_heap_idle"] = before
    report["free_heap_under_load_min"] = min(under_load) if under_load else None
    report["free_heap_after_soak"] = after
    if firmware.control is not None:
        report["virtual_heap_after_soak"] = firmware.control.mem()

    assert len(latencies) == per_client * CLIENTS
    kinds = sorted(set(why for _, why in errors))
    assert errors == [], "%d of %d requests failed (%s), first: %s" % (len(errors), len(latencies), ", ".join(map(str, kinds)), errors[:3])
    assert after >= before - LEAK_ALLOWANCE, "free heap went from %d to %d bytes" % (before, after)
