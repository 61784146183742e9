"""Captive-portal DNS: answer every A query with the device's own address (RFC 1035).

Phones joining the setup access point probe a well-known URL; answering every name with our
address makes that probe land on the provisioning page. ``answer()`` is the sans-I/O core;
``CaptiveDNS`` is a small UDP loop around it.
"""

import asyncio

from microhttp import compat

try:
    import socket  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # a port without networking never starts the captive portal
    socket = None  # type: ignore[assignment]

_TYPE_A = 1
_TYPE_ANY = 255
_CLASS_IN = 1
_TTL = 60  # seconds: short, so names resolve normally soon after the phone leaves the AP
_MAX_QUERY = 512  # RFC 1035 4.2.1: UDP messages are at most 512 bytes without EDNS


def ip_bytes(ip):
    parts = ip.split(".")
    if len(parts) != 4:
        raise ValueError("not an IPv4 address: %s" % ip)
    return bytes(int(p) for p in parts)


def answer(query, addr):
    """The reply to ``query`` (bytes) pointing every name at ``addr`` (4 bytes); None to drop."""
    n = len(query)
    if n < 12 or n > _MAX_QUERY:
        return None
    flags = query[2]
    if flags & 0x80 or (flags >> 3) & 0x0F != 0:  # a response, or not a standard query
        return None
    if query[4] != 0 or query[5] != 1:  # exactly one question (RFC 1035 4.1.2; all resolvers)
        return None
    # Walk QNAME's labels (no compression in a question); bounded by the packet length.
    i = 12
    while True:
        if i >= n:
            return None
        length = query[i]
        if length == 0:
            i += 1
            break
        if length & 0xC0:
            return None
        i += 1 + length
    if i + 4 > n:
        return None
    qtype = query[i] << 8 | query[i + 1]
    qclass = query[i + 2] << 8 | query[i + 3]
    end = i + 4
    give = qclass == _CLASS_IN and qtype in (_TYPE_A, _TYPE_ANY)
    out = bytearray(end + (16 if give else 0))
    out[0:end] = query[0:end]
    out[2] = 0x84 | (flags & 0x01)  # QR + AA, keep RD (RFC 1035 4.1.1)
    out[3] = 0x80  # RA, RCODE 0: other types get an empty NOERROR so clients fall back to A
    out[4:12] = b"\x00\x01\x00\x01\x00\x00\x00\x00" if give else b"\x00\x01\x00\x00\x00\x00\x00\x00"
    if give:
        # Name as a pointer to offset 12 (RFC 1035 4.1.4), type A, class IN, TTL, 4-byte address.
        out[end:end + 12] = b"\xc0\x0c\x00\x01\x00\x01\x00\x00" + bytes((0, _TTL, 0, 4))
        out[end + 12:end + 16] = addr
    return bytes(out)


class CaptiveDNS:
    """``dns = CaptiveDNS("192.168.4.1"); await dns.start(host, port)``; ``dns.stop()``."""

    def __init__(self, ip):
        self.addr = ip_bytes(ip)
        self.sock = None
        self.task = None
        self.answered = 0

    async def start(self, host="0.0.0.0", port=53):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(socket.getaddrinfo(host, port)[0][-1])
        except Exception:
            sock.close()
            raise
        sock.setblocking(False)
        self.sock = sock
        self.task = asyncio.create_task(self._serve(sock))
        return self

    async def _serve(self, sock):
        while True:
            try:
                query, peer = await compat.recvfrom(sock, _MAX_QUERY)
                reply = answer(query, self.addr)
                if reply is not None:
                    sock.sendto(reply, peer)
                    self.answered += 1
            except asyncio.CancelledError:
                raise
            except OSError:
                # A full send buffer or an ICMP error from a vanished client: drop the packet.
                await asyncio.sleep(0.01)

    def stop(self):
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
