"""microhttp against hostile clients, on every runtime: the corpus of malformed, oversized,
garbage, reset and slow requests (tools/bench_hostile.py, which also measures Microdot beside
it), a burst of connections opened at once, clients dribbling their heads (slowloris) while a
normal client polls, and a head below the minimum data rate."""

import socket
import time

import launch
import pytest

from tools import bench_hostile

CPYTHON_ONLY = True

runtimes = pytest.mark.parametrize("runtime", launch.RUNTIMES)


def board_heap(runtime):
    # A board's 128 KB: the 64-bit build's objects take twice a board's bytes.
    return "256k" if runtime == "micropython" else "128k"


@runtimes
def test_the_corpus_gets_no_lenient_answer_kills_nothing_and_is_answered_within_a_second(runtime, http_server):
    srv = http_server(runtime, heapsize=board_heap(runtime))
    results = bench_hostile.run_corpus(srv.port, alive=srv.proc.alive)
    assert len(results) == len(bench_hostile.corpus())
    assert [r["name"] for r in results if bench_hostile.lenient(r)] == []
    assert [r["name"] for r in results if r["dead"]] == []
    late = [(r["name"], r["end"], r["seconds"]) for r in results
            if r["kind"] in (bench_hostile.REJECT, bench_hostile.EITHER) and not bench_hostile.on_time(r)]
    assert late == []
    # Every malformed request is refused with a status, not dropped; the slow ones are served.
    assert [r["name"] for r in results if r["kind"] == bench_hostile.REJECT and not 400 <= r["status"] < 600] == []
    assert [(r["name"], r["status"]) for r in results if r["kind"] == bench_hostile.SLOW and r["status"] != 200] == []


@runtimes
def test_a_burst_of_50_connections_is_answered_on_every_one(runtime, http_server):
    srv = http_server(runtime, heapsize=board_heap(runtime))
    results = bench_hostile.burst(srv.port, 50)
    unanswered = [r for r in results if r["status"] not in (200, 503)]
    assert unanswered == []
    assert all(r["retry_after"] for r in results if r["status"] == 503)
    # A 503 is a fast answer, never one given after long silence.
    assert all(r["seconds"] < 1.5 for r in results if r["status"] == 503)
    assert sum(r["status"] == 200 for r in results) >= 8


@runtimes
def test_a_normal_client_is_served_on_every_poll_while_30_connections_dribble_their_heads(runtime, http_server):
    srv = http_server(runtime, heapsize=board_heap(runtime))
    result = bench_hostile.slowloris(srv.port, 30, 4)
    assert result["ok"] == result["polls"] >= 10, result["statuses"]
    assert result["slow_closed"] > 0  # the slow ones were turned away, not left to hold the slots


@runtimes
def test_a_head_below_the_minimum_rate_gets_408_long_before_the_head_timeout(runtime, http_server):
    srv = http_server(runtime)  # head_timeout 10 s
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n")
    answered_while_sending = False
    for _ in range(40):  # 8 s of 5 bytes a second, far below 500: within the 10 s head timeout
        try:
            sock.sendall(b"X")
        except OSError:
            answered_while_sending = True  # answered and closed meanwhile
            break
        time.sleep(0.2)
    answer = _read_to_close(sock)
    assert answered_while_sending
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:60]


@runtimes
def test_a_head_at_the_minimum_rate_is_served_though_it_takes_longer_than_its_first_2_s(runtime, http_server):
    srv = http_server(runtime)
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Pad: ")
    began = time.monotonic()
    for _ in range(60):  # 1800 bytes in 3 s: 600 B/s
        sock.sendall(b"p" * 30)
        time.sleep(0.05)
    sock.sendall(b"\r\nConnection: close\r\n\r\n")
    assert time.monotonic() - began > 2.5
    answer = _read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:60]


def _read_to_close(sock):
    # Everything the server sends until it closes (a reset after its answer ends it too).
    sock.settimeout(5)
    answer = b""
    try:
        while True:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    except OSError:
        pass
    sock.close()
    return answer
