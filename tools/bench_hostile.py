#!/usr/bin/env python3
"""Hostile clients against the HTTP servers, microhttp beside Microdot 2.7.0 in one run: a
corpus of malformed, oversized, garbage, reset and slow requests, a burst of connections
opened at once, and clients dribbling their heads (slowloris) while a normal client polls.

    source tools/bootstrap.sh
    python tools/bench_hostile.py                       # both servers, 32-bit build, 128 KB heap
    python tools/bench_hostile.py --servers microhttp --bits 64 --slow 200 --burst 50

The servers run the benchmark app (tools/bench_apps: GET /, GET /api/status, POST /api/led)
on the MicroPython unix port, compiled to .mpy (tools/bench_http.py builds them). For each
server it reports:

- corpus: per kind of case, how many got a 2xx although the request is malformed (lenient),
  how many were answered within 1 s of their last byte, late (within 3 s), or not at all, and
  whether the server stopped answering a normal request after one (dead);
- burst: N connections opened at once, each sending GET /api/status: how many got 200, 503
  with Retry-After, no answer within 5 s, or a reset; and the slowest answer;
- slowloris: S connections that send a head a byte a second and never end it, opened again
  whenever the server closes one, while a normal client sends GET /api/status on a new
  connection every 250 ms: how many of its polls got 200, and the longest time without one.

The corpus is what the test suite runs against microhttp on both runtimes
(tests_host/live/test_hostile_live.py). 127.0.0.1 only; every socket operation is bounded.
"""

import argparse
import random
import selectors
import socket
import struct
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

HOST = "127.0.0.1"
ON_TIME_S = 1.0  # a malformed request's answer is due within this of its last byte
LATE_S = 3.0  # waited for at most, after which the case counts as unanswered
PROBE_S = 3.0  # a normal request after each case must be answered within this

# The kinds of case, and what a server must do with each.
REJECT = "reject"  # malformed (RFC 9112 / RFC 9110 say: 4xx or 5xx): a 2xx is lenient
EITHER = "either"  # the RFCs allow rejecting it or reading it leniently: it must be answered
RESET = "reset"  # the client resets the connection: the server must carry on
SLOW = "slow"  # valid but slow: it must be served, however long it takes

_OK = b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n"


def _get(fields=b"Host: x\r\n", line=b"GET /api/status HTTP/1.1"):
    return line + b"\r\n" + fields + b"\r\n"


def _post(fields, body=b""):
    return b"POST /api/led HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + fields + b"\r\n" + body


def _chunked(body):
    return _post(b"Transfer-Encoding: chunked\r\n", body)


def corpus():
    """The cases: (name, kind, what the client sends). What it sends is bytes, or for a slow
    case a list of (pause in seconds, bytes)."""
    cases = []

    def add(kind, name, data):
        cases.append((name, kind, data))

    # The request line (RFC 9112 section 3).
    add(REJECT, "no Host in HTTP/1.1 (RFC 9112 3.2)", _get(b""))
    add(REJECT, "two Host fields (3.2)", _get(b"Host: x\r\nHost: y\r\n"))
    add(REJECT, "a Host value with a space (3.2)", _get(b"Host: a b\r\n"))
    add(REJECT, "HTTP/0.9 request line", b"GET /api/status\r\n\r\n")
    add(REJECT, "unknown major version", _get(line=b"GET /api/status HTTP/9.9"))
    add(REJECT, "version without minor", _get(line=b"GET /api/status HTTP/1"))
    add(REJECT, "lower-case HTTP name", _get(line=b"GET /api/status http/1.1"))
    add(REJECT, "version with three parts", _get(line=b"GET /api/status HTTP/1.1.1"))
    add(REJECT, "a word after the version", _get(line=b"GET /api/status HTTP/1.1 extra"))
    add(REJECT, "a space inside the target", _get(line=b"GET /api/st atus HTTP/1.1"))
    add(REJECT, "method with a delimiter", _get(line=b"G@T /api/status HTTP/1.1"))
    add(REJECT, "method with a NUL", _get(line=b"GE\x00T /api/status HTTP/1.1"))
    add(REJECT, "target with a NUL", _get(line=b"GET /api/status\x00 HTTP/1.1"))
    add(REJECT, "target with DEL", _get(line=b"GET /api/status\x7f HTTP/1.1"))
    add(REJECT, "target with a control byte", _get(line=b"GET /api/\x01status HTTP/1.1"))
    add(REJECT, "target not starting with /", _get(line=b"GET api/status HTTP/1.1"))
    add(REJECT, "asterisk target for GET", _get(line=b"GET * HTTP/1.1"))
    add(REJECT, "a space before the method", _get(line=b" GET /api/status HTTP/1.1"))
    add(REJECT, "empty request line", b"\r\n\r\n\r\n\r\n")
    add(REJECT, "method of 300 letters", _get(line=b"A" * 300 + b" /api/status HTTP/1.1"))
    add(REJECT, "target of 3000 bytes", _get(line=b"GET /" + b"a" * 3000 + b" HTTP/1.1"))
    add(REJECT, "request line of 20 KB", _get(line=b"GET /" + b"a" * 20000 + b" HTTP/1.1"))
    add(EITHER, "empty line before the request (2.2)", b"\r\n" + _OK)
    add(EITHER, "two spaces between the parts (3)", _get(line=b"GET  /api/status HTTP/1.1"))
    add(EITHER, "tabs between the parts (3)", _get(line=b"GET\t/api/status\tHTTP/1.1"))
    add(EITHER, "bare LF line ends (2.2)", _OK.replace(b"\r\n", b"\n"))
    add(EITHER, "bare CR in the request line (2.2)", _get(line=b"GET /api/status\rHTTP/1.1"))
    add(EITHER, "absolute-form target (3.2.2)", _get(line=b"GET http://x/api/status HTTP/1.1"))
    add(EITHER, "HTTP/1.0 without Host", b"GET /api/status HTTP/1.0\r\n\r\n")
    # Header fields (RFC 9112 section 5, RFC 9110 section 5).
    add(REJECT, "whitespace before a colon (5.1)", _get(b"Host : x\r\n"))
    add(REJECT, "tab before a colon (5.1)", _get(b"Host: x\r\nX-A\t: b\r\n"))
    add(REJECT, "a field line without a colon", _get(b"Host: x\r\nnocolon\r\n"))
    add(REJECT, "an empty field name", _get(b"Host: x\r\n: value\r\n"))
    add(REJECT, "a field name with a space", _get(b"Host: x\r\nX A: b\r\n"))
    add(REJECT, "a field name with a delimiter", _get(b"Host: x\r\nX(A): b\r\n"))
    add(REJECT, "a field name with a control byte", _get(b"Host: x\r\nX\x01A: b\r\n"))
    add(REJECT, "a field name with a NUL", _get(b"Host: x\r\nX\x00: b\r\n"))
    add(REJECT, "a field name with a high byte", _get(b"Host: x\r\nX\xffA: b\r\n"))
    add(REJECT, "first field line folded", b"GET /api/status HTTP/1.1\r\n Host: x\r\n\r\n")
    add(REJECT, "40 field lines", _get(b"Host: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(40))))
    add(REJECT, "a field line of 4 KB", _get(b"Host: x\r\nX-Big: " + b"v" * 4096 + b"\r\n"))
    add(REJECT, "a head of 30 KB", _get(b"Host: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 60) for i in range(30 * 16))))
    add(EITHER, "obs-fold in a field value (5.2)", _get(b"Host: x\r\nX-A: a\r\n b\r\n"))
    add(EITHER, "a NUL in a field value (5.5)", _get(b"Host: x\r\nX-A: a\x00b\r\n"))
    add(EITHER, "a bare CR in a field value (5.5)", _get(b"Host: x\r\nX-A: a\rb\r\n"))
    add(EITHER, "a high byte in a field value (5.5)", _get(b"Host: x\r\nX-A: caf\xe9\r\n"))
    # Body framing (RFC 9112 section 6).
    for value in (b"abc", b"-1", b"+12", b"1.5", b"0x0c", b"12 3", b"", b"12, 13"):
        add(REJECT, "Content-Length %r (6.3)" % value.decode(), _post(b"Content-Length: " + value + b"\r\n", b'{"on": true}'))
    add(REJECT, "two different Content-Lengths (6.3)", _post(b"Content-Length: 12\r\nContent-Length: 13\r\n", b'{"on": true}'))
    add(REJECT, "Content-Length of 10 MB (413)", _post(b"Content-Length: 10000000\r\n"))
    add(REJECT, "Content-Length of 30 digits", _post(b"Content-Length: " + b"9" * 30 + b"\r\n"))
    add(EITHER, "Content-Length '12, 12' (RFC 9110 8.6)", _post(b"Content-Length: 12, 12\r\n", b'{"on": true}'))
    for coding in (b"gzip", b"chunked, gzip", b"identity", b"xchunked", b"chunked, chunked"):
        add(REJECT, "Transfer-Encoding %r (6.1, 6.3)" % coding.decode(),
            _post(b"Transfer-Encoding: " + coding + b"\r\n", b"c\r\n{\"on\": true}\r\n0\r\n\r\n"))
    add(EITHER, "Transfer-Encoding and Content-Length (6.3)",
        _post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"c\r\n{\"on\": true}\r\n0\r\n\r\n"))
    add(REJECT, "chunk size not hex (7.1)", _chunked(b"zz\r\n{\"on\": true}\r\n0\r\n\r\n"))
    add(REJECT, "chunk size with junk after it", _chunked(b"c x\r\n{\"on\": true}\r\n0\r\n\r\n"))
    add(REJECT, "negative chunk size", _chunked(b"-c\r\n{\"on\": true}\r\n0\r\n\r\n"))
    add(REJECT, "chunk size of 20 hex digits", _chunked(b"f" * 20 + b"\r\n{\"on\": true}\r\n0\r\n\r\n"))
    add(REJECT, "chunk data longer than its size", _chunked(b"4\r\n{\"on\": true}\r\n0\r\n\r\n"))
    add(REJECT, "chunk extension of 1 KB", _chunked(b"c;x=" + b"a" * 1024 + b"\r\n{\"on\": true}\r\n0\r\n\r\n"))
    add(REJECT, "body that is not JSON", _post(b"Content-Length: 5\r\n", b"hello"))
    # Garbage at the first bytes: nothing an HTTP request can start with.
    rng = random.Random(9112)
    add(REJECT, "TLS ClientHello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(rng.randrange(256) for _ in range(64)))
    add(REJECT, "SSH banner", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    add(REJECT, "HTTP/2 connection preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    add(REJECT, "NUL bytes", b"\x00" * 16)
    add(REJECT, "terminal escape sequence", b"\x1b[2J\x1b[H")
    add(REJECT, "JSON to the port", b'{"op": "ping"}\n')
    add(REJECT, "a word and a line end", b"hello\r\n\r\n")
    add(REJECT, "SMTP greeting", b"EHLO x\r\n")
    for size in (1, 8, 64, 512, 4096):
        add(REJECT, "%d random high bytes" % size, bytes(128 + rng.randrange(128) for _ in range(size)))
    for size in (16, 256):
        add(REJECT, "%d random bytes with line ends" % size,
            bytes(rng.choice(b"\r\n\x00\x01\xff:/ Ab") for _ in range(size)) + b"\r\n\r\n")
    # Resets: the client goes away at once (a TCP reset), at each point of a request.
    add(RESET, "reset right after connecting", b"")
    add(RESET, "reset in the request line", b"GET /api/sta")
    add(RESET, "reset in the head", b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-A: ")
    add(RESET, "reset in the body", _post(b"Content-Length: 1000\r\n", b'{"on": '))
    add(RESET, "reset before reading the answer", _OK)
    add(RESET, "reset before reading a 2 KB page", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    # Slow but valid: served however long they take.
    add(SLOW, "head a byte every 10 ms", [(0.01, bytes([byte])) for byte in _OK])
    add(SLOW, "head in three pieces, 300 ms apart", [(0, _OK[:10]), (0.3, _OK[10:30]), (0.3, _OK[30:])])
    add(SLOW, "body a byte every 50 ms",
        [(0, _post(b"Content-Length: 12\r\n"))] + [(0.05, bytes([byte])) for byte in b'{"on": true}'])
    return cases


# ---------------------------------------------------------------------- one case
def _connect(port, timeout=5.0):
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _reset(sock):
    # Close with a TCP reset (SO_LINGER on, 0 s), as a client that crashed or lost power.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _status_line(sock, wait_s):
    """(status or None, how it ended: "answered", "closed", "reset", "timeout"), reading at
    most ``wait_s`` for the answer's status line."""
    sock.settimeout(wait_s)
    data = b""
    try:
        while b"\r\n" not in data:
            piece = sock.recv(4096)
            if not piece:
                break
            data += piece
    except socket.timeout:
        return None, "timeout"
    except ConnectionResetError:
        return (None, "reset") if not data.startswith(b"HTTP/1.") else (int(data[9:12]), "answered")
    if data.startswith(b"HTTP/1.") and len(data) >= 12 and data[9:12].isdigit():
        return int(data[9:12]), "answered"
    return None, "closed"


def run_case(port, case):
    """One case on a connection of its own: {"name", "kind", "status", "end", "seconds"}, the
    seconds from its last byte sent to the answer's status line."""
    name, kind, data = case
    result = {"name": name, "kind": kind, "status": None, "end": None, "seconds": None}
    sock = _connect(port)
    try:
        if kind == SLOW:
            for pause, piece in data:
                time.sleep(pause)
                sock.sendall(piece)
        elif data:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed before it took everything: read that
        if kind == RESET:
            time.sleep(0.02)  # let the bytes arrive first
            _reset(sock)
            sock = None
            result["end"] = "reset by the client"
            return result
        sent = time.monotonic()
        result["status"], result["end"] = _status_line(sock, LATE_S if kind != SLOW else 15.0)
        result["seconds"] = time.monotonic() - sent
        return result
    finally:
        if sock is not None:
            sock.close()


def probe(port):
    """Whether a normal request is answered 200 within PROBE_S."""
    try:
        sock = _connect(port, PROBE_S)
    except OSError:
        return False
    try:
        sock.sendall(_OK)
        return _status_line(sock, PROBE_S)[0] == 200
    except OSError:
        return False
    finally:
        sock.close()


def run_corpus(port, cases=None, alive=lambda: True):
    """Every case, each followed by a normal request; the results, each with "dead": whether
    the server failed that request (or its process ended) after the case."""
    results = []
    for case in cases or corpus():
        result = run_case(port, case)
        result["dead"] = not (alive() and probe(port))
        results.append(result)
        if result["dead"] and not alive():
            break
    return results


def lenient(result):
    return result["kind"] == REJECT and result["status"] is not None and 200 <= result["status"] < 300


def on_time(result):
    return result["end"] == "answered" and result["seconds"] <= ON_TIME_S


def summary(results):
    """{kind: counts} and the totals: cases, lenient, dead, answered on time, late, not answered."""
    out = {}
    for result in results:
        row = out.setdefault(result["kind"], {"cases": 0, "lenient": 0, "dead": 0, "on time": 0, "late": 0,
                                              "unanswered": 0, "2xx": 0})
        row["cases"] += 1
        row["lenient"] += lenient(result)
        row["dead"] += result["dead"]
        if result["kind"] != RESET:
            if on_time(result):
                row["on time"] += 1
            elif result["end"] == "answered":
                row["late"] += 1
            else:
                row["unanswered"] += 1
            row["2xx"] += result["status"] is not None and 200 <= result["status"] < 300
    return out


# ---------------------------------------------------------------------- a burst
def burst(port, count, wait_s=5.0):
    """``count`` connections opened at once, each sending GET /api/status as soon as it is
    connected: for each, {"status", "end", "seconds" from its request to the answer's head,
    "retry_after"}."""
    sel = selectors.DefaultSelector()
    states = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex((HOST, port))
        state = {"sock": sock, "sent": None, "data": b"", "end": None, "done": None}
        states.append(state)
        sel.register(sock, selectors.EVENT_WRITE, state)
    deadline = time.monotonic() + wait_s
    waiting = count
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.05):
            state = key.data
            sock = state["sock"]
            if state["sent"] is None:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    state["end"] = "refused"
                else:
                    try:
                        sock.send(_OK)
                        state["sent"] = time.monotonic()
                        sel.modify(sock, selectors.EVENT_READ, state)
                        continue
                    except OSError:
                        state["end"] = "reset"
            else:
                try:
                    piece = sock.recv(4096)
                except OSError:
                    piece, state["end"] = b"", "reset"
                state["data"] += piece
                if piece and b"\r\n\r\n" not in state["data"]:
                    continue
                state["done"] = time.monotonic()
            sel.unregister(sock)
            waiting -= 1
    sel.close()
    results = []
    for state in states:
        state["sock"].close()
        head = state["data"].split(b"\r\n\r\n")[0]
        status = int(head[9:12]) if head.startswith(b"HTTP/1.") and head[9:12].isdigit() else None
        end = state["end"] or ("answered" if status else "closed" if state["done"]
                               else "no answer" if state["sent"] else "not connected")
        results.append({"status": status, "end": end,
                        "seconds": state["done"] - state["sent"] if state["done"] and state["sent"] else None,
                        "retry_after": b"\r\nretry-after:" in head.lower()})
    return results


# ---------------------------------------------------------------------- slowloris
def slowloris(port, slow_count, seconds, poll_s=0.25, poll_timeout_s=3.0):
    """``slow_count`` connections that send a head a byte a second and never end it (each
    opened again when the server closes it) while a normal client sends GET /api/status on a
    new connection every ``poll_s`` for ``seconds``. {"polls", "ok" (200s), "statuses",
    "timings" (seconds each poll took), "longest_without_200" (seconds), "slow_closed" (how
    often the server closed a slow one)}."""
    stop = threading.Event()
    closed = [0]

    def attack():
        sel = selectors.DefaultSelector()
        head = b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Slow: "

        def open_one():
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((HOST, port))
            sel.register(sock, selectors.EVENT_READ, {"sock": sock, "at": 0})

        for _ in range(slow_count):
            open_one()
        next_byte = time.monotonic()
        while not stop.is_set():
            for key, _ in sel.select(timeout=0.05):
                sock = key.data["sock"]
                try:
                    gone = not sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    gone = True
                if gone:
                    sel.unregister(sock)
                    sock.close()
                    closed[0] += 1
                    open_one()
            if time.monotonic() >= next_byte:
                next_byte += 1.0
                for key in list(sel.get_map().values()):
                    state = key.data
                    piece = head[state["at"]:state["at"] + 1] or b"a"
                    try:
                        state["sock"].send(piece)
                        state["at"] += 1
                    except (BlockingIOError, OSError):
                        pass  # not connected yet, or closed: the read above sees it
        for key in list(sel.get_map().values()):
            key.data["sock"].close()
        sel.close()

    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    time.sleep(1.5)  # the slow heads first: every slot taken, the backlog full
    statuses, timings, last_ok, longest = [], [], time.monotonic(), 0.0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        polled = time.monotonic()
        status = None
        try:
            sock = _connect(port, poll_timeout_s)
            try:
                sock.sendall(_OK)
                status = _status_line(sock, poll_timeout_s)[0]
            finally:
                sock.close()
        except OSError:
            pass
        statuses.append(status)
        now = time.monotonic()
        timings.append(round(now - polled, 2))
        if status == 200:
            longest = max(longest, now - last_ok)
            last_ok = now
        time.sleep(max(0.0, poll_s - (now - polled)))
    longest = max(longest, time.monotonic() - last_ok)
    stop.set()
    attacker.join(10)
    return {"polls": len(statuses), "ok": statuses.count(200), "statuses": statuses, "timings": timings,
            "longest_without_200": longest, "slow_closed": closed[0]}


# ---------------------------------------------------------------------- the report
def measure(name, heap_kb, slow_count, burst_count, slow_seconds):
    import bench_http

    out = {"server": name}
    with bench_http.Server(name, heap_kb) as server:
        if not server.ok:
            raise SystemExit("%s did not start:\n%s" % (name, server.output()))
        bench_http.log("%s: the corpus" % name)
        out["corpus"] = run_corpus(server.port, alive=server.alive)
        bench_http.log("%s: a burst of %d connections" % (name, burst_count))
        out["burst"] = burst(server.port, burst_count) if server.alive() else []
        bench_http.log("%s: %d slow heads for %d s while a client polls" % (name, slow_count, slow_seconds))
        out["slowloris"] = slowloris(server.port, slow_count, slow_seconds) if server.alive() else None
        out["alive"] = server.alive() and probe(server.port)
    return out


def report(rows, heap_kb, bits, slow_count, burst_count, slow_seconds):
    lines = ["MicroPython 1.25 unix port (%d-bit), %d KB heap, the benchmark app compiled to .mpy" % (bits, heap_kb), ""]
    lines.append("| server | kind | cases | 2xx to a malformed request | answered within 1 s | late (1-3 s) "
                 "| not answered | dead after it |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for row in rows:
        for kind, counts in sorted(summary(row["corpus"]).items()):
            lines.append("| %s | %s | %d | %s | %s | %s | %s | %d |" % (
                row["server"], kind, counts["cases"], counts["lenient"] if kind == REJECT else "-",
                counts["on time"] if kind != RESET else "-", counts["late"] if kind != RESET else "-",
                counts["unanswered"] if kind != RESET else "-", counts["dead"]))
    lines += ["", "Burst: %d connections opened at once, each sending GET /api/status" % burst_count, "",
              "| server | 200 | 503 with Retry-After | other answer | no answer within 5 s | reset or closed | slowest answer |",
              "|---|---|---|---|---|---|---|"]
    for row in rows:
        results = row["burst"]
        answered = [r["seconds"] for r in results if r["seconds"] is not None and r["status"]]
        lines.append("| %s | %d | %d | %d | %d | %d | %s |" % (
            row["server"], sum(r["status"] == 200 for r in results),
            sum(r["status"] == 503 and r["retry_after"] for r in results),
            sum(r["status"] not in (None, 200) and not (r["status"] == 503 and r["retry_after"]) for r in results),
            sum(r["end"] == "no answer" for r in results),
            sum(r["end"] in ("reset", "closed", "refused") for r in results),
            "%.2f s" % max(answered) if answered else "-"))
    lines += ["", "Slowloris: %d connections dribbling heads, a normal client polling every 250 ms for %d s"
              % (slow_count, slow_seconds), "",
              "| server | polls answered 200 | longest without a 200 | slow connections closed by the server |",
              "|---|---|---|---|"]
    for row in rows:
        result = row["slowloris"]
        if result:
            lines.append("| %s | %d of %d | %.1f s | %d |" % (row["server"], result["ok"], result["polls"],
                                                                result["longest_without_200"], result["slow_closed"]))
    lines += ["", "Server alive and answering at the end: " + ", ".join(
        "%s %s" % (row["server"], "yes" if row["alive"] else "NO") for row in rows)]
    problems = [(row["server"], r) for row in rows for r in row["corpus"]
                if lenient(r) or r["dead"] or (r["kind"] not in (RESET, SLOW) and not on_time(r))
                or (r["kind"] == SLOW and r["status"] != 200)]
    if problems:
        lines += ["", "Cases not answered as they should be:", ""]
        lines += ["- %s, %s: %s" % (server, r["name"], _describe(r)) for server, r in problems]
    return "\n".join(lines)


def _describe(result):
    if result["dead"]:
        return "the server stopped answering after it"
    if result["end"] != "answered":
        return "%s after %.1f s" % (result["end"], result["seconds"] or 0)
    return "%d after %.2f s" % (result["status"], result["seconds"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="microhttp,microdot", help="comma-separated (default: %(default)s)")
    parser.add_argument("--bits", type=int, choices=(32, 64), default=32, help="the unix port's word size (default 32)")
    parser.add_argument("--heap", type=int, default=128, help="heap in KB (default %(default)s)")
    parser.add_argument("--slow", type=int, default=200, help="slow connections (default %(default)s)")
    parser.add_argument("--burst", type=int, default=50, help="connections in the burst (default %(default)s)")
    parser.add_argument("--seconds", type=int, default=12, help="how long the slowloris runs (default %(default)s)")
    args = parser.parse_args(argv)
    import bench_http

    bench_http.BITS = args.bits
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    bench_http.build(servers)
    rows = [measure(name, args.heap, args.slow, args.burst, args.seconds) for name in servers]
    print(report(rows, args.heap, args.bits, args.slow, args.burst, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
