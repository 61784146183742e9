"""Soak: a bounded number of API requests (--soak, default 2000) from --soak-clients keep-alive
clients (default 4: a phone page opens a few parallel connections; rp2's lwIP has 5 TCP PCBs).

Free heap (GET /api/health, which collects first) is read idle, every 100 requests under load,
after the first half and after the second half. Bounded structures (connection pools, event
ring buffers, logs) may fill during the first half; a leak keeps growing, so the second half
must not lose more than LEAK_ALLOWANCE. Any error answer fails the test. The figures go to the
device report (results/<board id>.json).

Then the control page again, on the heap the soak left: a burst of connections leaves the heap
fragmented and the server's pools at their high-water mark, and that is when a person opens the
page on a phone. There a page's head may find no hole big enough for its read buffer, and pooled
parsers may hold the heap short enough that new connections wait: every load must still be
answered and go live. Report keys: page_after_soak_loads_s and page_after_soak_non_200. Both
tests use the ``soak`` fixture, so the soak runs once per module and the page test never runs on
a board that was not soaked."""

import statistics
import threading
import time

import httpx
import pytest
from page_check import load_page

# bytes the second half may lose: a few GC blocks of noise between two collected readings, and
# room for a one-off step of about 1 KB that long runs on the virtual board sometimes show at a
# random point (not a leak: it never repeats within a run). A real leak grows with every request
# of the second half and exceeds it.
LEAK_ALLOWANCE = 2048
PATHS = ("/api/board", "/api/devices")
# Structures whose size follows the peak number of sockets open at once keep that size: the
# parser pool (microhttp keeps up to max_conns, the firmware's is the default 8) and the
# poller's tables (asyncio's and select's maps of registered sockets grow, never shrink).
# The soak's clients reach a new peak only now and then, by chance (a client connects before
# the server has seen the previous one close), so the warm-up opens twice the connection limit
# at once: every such structure is at its high-water mark before "idle" is read.
MAX_CONNS = 8


def run_clients(base, clients, per_client, latencies, errors, under_load):
    lock = threading.Lock()

    def worker(index):
        mine = []
        with httpx.Client(base_url=base, timeout=10) as c:
            for i in range(per_client):
                path = PATHS[i % 2]
                t0 = time.perf_counter()
                try:
                    r = c.get(path)
                    ok = r.status_code == 200
                    # microhttp answers 503 with Retry-After when over max_conns, without when a
                    # handler ran out of memory
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
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def hold_connections(base, count):
    """Open ``count`` connections at once, one request each (over max_conns the server answers
    503 or reclaims an idle one: fine here), then close them all."""
    together = threading.Barrier(count)

    def worker():
        with httpx.Client(base_url=base, timeout=10) as c:
            try:
                c.get(PATHS[0])
            except httpx.HTTPError:
                pass  # refused or reset: a small board (rp2: 5 TCP PCBs) may not take them all
            try:
                together.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass  # another connection took too long: the ones open now are enough

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def settled_free(firmware):
    time.sleep(0.5)  # let closing connections finish
    # The best of two readings: the first after a burst often still sees a few blocks that
    # the conservative GC keeps for a stale pointer.
    return max(firmware.health()["free_heap"], firmware.health()["free_heap"])


@pytest.fixture(scope="module")
def soak(device, request):
    """Runs the soak once for this module's tests; its figures go to the report, and what the
    soak test checks is returned."""
    device.ensure_firmware()
    firmware = device
    total = request.config.getoption("--soak")
    clients = request.config.getoption("--soak-clients")
    per_half = max(1, total // clients // 2)
    base = firmware.http

    # Warm-up at the soak's concurrency, so per-connection state exists before "idle" is read,
    # and over the connection limit, so the pools and poller tables are at their high-water marks.
    latencies, errors, under_load = [], [], []
    run_clients(base, clients, 10, [], errors, [])
    hold_connections(base, 2 * MAX_CONNS)
    idle = settled_free(firmware)

    elapsed = run_clients(base, clients, per_half, latencies, errors, under_load)
    half = settled_free(firmware)
    elapsed += run_clients(base, clients, per_half, latencies, errors, under_load)
    after = settled_free(firmware)

    latencies.sort()
    report = firmware.report
    report["soak_requests"] = len(latencies)
    report["soak_clients"] = clients
    report["soak_errors"] = len(errors)
    report["requests_per_s"] = round(len(latencies) / elapsed, 1)
    report["latency_ms"] = {
        "median": round(statistics.median(latencies) * 1000, 2),
        "p95": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "max": round(latencies[-1] * 1000, 2),
    }
    report["free_heap_idle"] = idle
    report["free_heap_under_load_min"] = min(under_load) if under_load else None
    report["free_heap_after_half"] = half
    report["free_heap_after_soak"] = after
    if firmware.control is not None:
        report["virtual_heap_after_soak"] = firmware.control.mem()
    return {"per_half": per_half, "clients": clients, "latencies": latencies, "errors": errors,
            "idle": idle, "half": half, "after": after}


def test_soak_no_errors_and_no_heap_growth(soak):
    per_half, clients, latencies, errors = soak["per_half"], soak["clients"], soak["latencies"], soak["errors"]
    idle, half, after = soak["idle"], soak["half"], soak["after"]
    assert len(latencies) == 2 * per_half * clients
    kinds = sorted(set(str(why) for _, why in errors))
    assert errors == [], "%d of %d requests failed (%s), first: %s" % (
        len(errors), len(latencies), ", ".join(kinds), errors[:3])
    assert after >= half - LEAK_ALLOWANCE, (
        "free heap kept falling: %d idle, %d after %d requests, %d after %d"
        % (idle, half, len(latencies) // 2, after, len(latencies)))


def test_after_the_soak_the_page_still_loads_and_goes_live_every_time(soak, chromium, firmware):
    load_page(firmware, chromium, "page_after_soak_loads_s")
