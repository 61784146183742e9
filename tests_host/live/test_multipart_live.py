"""Streaming uploads over real sockets on both runtimes, sent with curl and raw sockets:
a 256 KB file through a 96 KB MicroPython heap, limits (413) that keep the old file, a
disconnect mid-file that leaves no partial file, safe client file names, urlencoded fields."""

import json
import os
import socket
import subprocess
import time

import httpx
import launch
import pytest

CPYTHON_ONLY = True
WAIT = 20
BIG = bytes((i * 131 + (i >> 9)) & 0xFF for i in range(256 * 1024))  # 2.7x the heap below


@pytest.fixture(scope="module", params=launch.RUNTIMES)
def server(request, tmp_path_factory, mpy_microhttp):
    root = tmp_path_factory.mktemp("uploads")
    with launch.serve_app(request.param, "ext_upload_app.py", [root], heapsize="96k", compiled=mpy_microhttp) as proc:
        proc.root = root
        yield proc


def curl(*args):
    out = subprocess.run(["curl", "-s", "-m", str(WAIT), "-w", "\n%{http_code}"] + list(args),
                         capture_output=True, text=True, check=True).stdout
    body, _, code = out.rpartition("\n")
    return int(code), body


def leftovers(root):
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".part"))


def test_file_larger_than_the_heap_streams_to_disk(server, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(BIG)
    code, body = curl("-F", "title=héllo wörld", "-F", "file=@%s;type=application/octet-stream" % src,
                      server.url + "/upload")
    assert code == 200, body
    reply = json.loads(body)
    assert reply["fields"] == {"title": "héllo wörld"}
    assert reply["files"]["file"] == [str(server.root / "upload.bin"), len(BIG), "big.bin"]
    assert (server.root / "upload.bin").read_bytes() == BIG
    assert leftovers(server.root) == []


def test_oversize_file_is_refused_and_the_old_file_survives(server, tmp_path):
    (server.root / "small.bin").write_bytes(b"previous version")
    src = tmp_path / "two_k.bin"
    src.write_bytes(b"x" * 2048)  # the limit is 1 KB
    code, _ = curl("-F", "file=@%s" % src, server.url + "/small")
    assert code == 413
    assert (server.root / "small.bin").read_bytes() == b"previous version"
    assert leftovers(server.root) == []
    src.write_bytes(b"new content")
    code, body = curl("-F", "file=@%s" % src, server.url + "/small")
    assert code == 200, body
    assert (server.root / "small.bin").read_bytes() == b"new content"  # replaced when complete


def test_disconnect_mid_file_removes_the_partial_file(server):
    (server.root / "upload.bin").write_bytes(b"the good old file")
    boundary = b"cutcutcut"
    head = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n")
    total = len(head) + len(BIG) + 100
    s = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" + boundary +
              b"\r\nContent-Length: " + str(total).encode() + b"\r\n\r\n" + head + BIG[:100 * 1024])
    server.wait_for(r"UPLOAD OPEN .*upload\.bin", WAIT)  # the part file was really being written
    deadline = time.monotonic() + WAIT
    while not leftovers(server.root):  # it exists while the body streams in
        assert time.monotonic() < deadline, "no .part file appeared"
        time.sleep(0.02)
    s.close()  # gone, 100 KB into a 256 KB file
    deadline = time.monotonic() + WAIT
    while leftovers(server.root):
        assert time.monotonic() < deadline, "partial file left behind: %s" % leftovers(server.root)
        time.sleep(0.05)
    assert (server.root / "upload.bin").read_bytes() == b"the good old file"


def test_empty_file_input_keeps_the_old_file(server):
    # What a browser sends for a form whose file input was left empty.
    (server.root / "upload.bin").write_bytes(b"keep me")
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nno file\r\n"
            b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n\r\n--b0undary--\r\n")
    r = httpx.post(server.url + "/upload", content=body, timeout=WAIT,
                   headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
    assert r.status_code == 200 and r.json() == {"fields": {"title": "no file"}, "files": {}}
    assert (server.root / "upload.bin").read_bytes() == b"keep me"
    assert leftovers(server.root) == []


def test_client_file_names_are_made_safe(server, tmp_path):
    src = tmp_path / "f.txt"
    src.write_bytes(b"content")
    code, body = curl("-F", "doc=@%s;filename=../../evil name.txt" % src, server.url + "/named")
    assert code == 200, body
    assert json.loads(body)["files"]["doc"][0] == str(server.root / "evil_name.txt")
    assert (server.root / "evil_name.txt").read_bytes() == b"content"
    assert not os.path.exists(server.root.parent / "evil name.txt")


def test_urlencoded_and_text_field_limits(server):
    code, body = curl("--data", "a=1&b=J%C3%BCrgen+M&c=%26", server.url + "/form")
    assert code == 200 and json.loads(body)["fields"] == {"a": "1", "b": "Jürgen M", "c": "&"}
    code, _ = curl("--data", "a=" + "x" * 100, server.url + "/form")  # max_field is 64
    assert code == 413
    code, _ = curl("--data", "&".join("k%d=v" % i for i in range(6)), server.url + "/form")  # max_fields 4
    assert code == 413
    code, body = curl("-F", "x=multipart text", server.url + "/form")
    assert code == 200 and json.loads(body)["fields"] == {"x": "multipart text"}
    code, _ = curl("-F", "f=@/dev/null", server.url + "/form")  # no file destinations here
    assert code == 400
    code, _ = curl("-H", "Content-Type: text/plain", "--data", "hello", server.url + "/form")
    assert code == 415
