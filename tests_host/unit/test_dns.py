"""Captive-portal DNS: the sans-I/O answer() and a real UDP query on 127.0.0.1 (both runtimes)."""

import asyncio
import os
import socket

from app import dns
from dns_messages import parse_a, query
from support import raises, run


def test_every_name_resolves_to_the_device():
    addr = dns.ip_bytes("192.168.4.1")
    for name in ("connectivitycheck.gstatic.com", "captive.apple.com", "x.y", "microhttp.local"):
        ident, flags, addrs = parse_a(dns.answer(query(name, ident=77), addr))
        assert ident == 77
        assert flags & 0x8000 and flags & 0x0400  # a response, authoritative
        assert flags & 0x0100  # recursion desired is echoed
        assert flags & 0x000F == 0
        assert addrs == ["192.168.4.1"]


def test_other_types_get_an_empty_noerror():
    ident, flags, addrs = parse_a(dns.answer(query("example.com", qtype=28), dns.ip_bytes("10.0.0.1")))
    assert addrs == [] and flags & 0x000F == 0


def test_malformed_packets_are_dropped():
    addr = dns.ip_bytes("10.0.0.1")
    good = query("a.b")
    assert dns.answer(good, addr) is not None
    assert dns.answer(good[:11], addr) is None  # shorter than a header
    assert dns.answer(good[:-2], addr) is None  # question cut short
    resp = bytearray(good)
    resp[2] |= 0x80
    assert dns.answer(bytes(resp), addr) is None  # a response, not a query
    two = bytearray(good)
    two[5] = 2
    assert dns.answer(bytes(two), addr) is None
    loop = bytearray(good)
    loop[12] = 0xC0  # compression pointer in a question
    assert dns.answer(bytes(loop), addr) is None
    assert dns.answer(b"\x00" * 600, addr) is None
    with raises(ValueError, "IPv4"):
        dns.ip_bytes("::1")


def _random_port():
    b = os.urandom(2)
    return 20000 + ((b[0] << 8 | b[1]) % 30000)


def test_real_udp_query_on_loopback():
    async def main():
        server = dns.CaptiveDNS("192.168.4.1")
        for _ in range(10):  # MicroPython's socket has no getsockname(): pick a free port
            port = _random_port()
            try:
                await server.start("127.0.0.1", port)
                break
            except OSError:
                pass
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.setblocking(False)
        target = socket.getaddrinfo("127.0.0.1", port)[0][-1]
        replies = []

        async def receive_reply():
            for _ in range(200):  # bounded wait: 200 x 10 ms
                await asyncio.sleep(0.01)
                try:
                    replies.append(client.recvfrom(512)[0])
                    return
                except OSError:
                    pass

        try:
            for ident in (1, 2, 3):
                client.sendto(query("any.name.example", ident=ident), target)
                await receive_reply()
            client.sendto(b"garbage", target)  # must not kill the responder
            client.sendto(query("after.garbage", ident=9), target)
            await receive_reply()
            return replies, server.answered
        finally:
            client.close()
            server.stop()

    replies, answered = run(main())
    assert [parse_a(r)[0] for r in replies] == [1, 2, 3, 9]
    assert all(parse_a(r)[2] == ["192.168.4.1"] for r in replies)
    assert answered == 4
