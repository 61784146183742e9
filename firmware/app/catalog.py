"""The board's description for /api/board and /api/devices, without large per-request allocations.

Why: a device's description is mostly static (label, the command schema with help texts,
exclusive groups, events, timings: ~90 % of the ~4 KB that /api/board answers); only its
``state`` changes. Building it per request with ``describe()`` and ``json.dumps`` made ~7 KB of
garbage per request and one ~4 KB string that needs a contiguous free block. With 4 concurrent
requests (each holding its string across the write's await) the heap fragmented until no 4 KB
hole was left while ~35 KB was still free: 503s from MemoryError (virtual ESP32, 224 KB heap).

So the static JSON of each device is rendered once, at boot, to bytes (long-lived, allocated
before the heap fragments; the command schema once per driver class, shared by its devices),
and a request renders only the live state (a dict and a ~100-250
byte string per device). The answer is a list of byte pieces sent as a file-like body: the
server copies it through its own output buffer (``readinto``), with a Content-Length, so no
allocation per request is larger than one device's state string.
"""

import json

_STATE = b', "state": '  # the live part, last in every device object


class Pieces:
    """A read-only file over a list of bytes-like pieces: what microhttp streams as a body.

    ``readinto`` copies the next bytes into the caller's buffer (the server's output buffer);
    ``seek(0, 2)``/``tell()`` give the length up front, for Content-Length.
    """

    def __init__(self, pieces):
        self.pieces = pieces
        self.length = 0
        for p in pieces:
            self.length += len(p)
        self.i = 0  # the piece readinto copies from next
        self.off = 0  # how much of it was copied already
        self.pos = 0

    def readinto(self, buf):
        pieces = self.pieces
        room = len(buf)
        n = 0
        while n < room and self.i < len(pieces):
            p = pieces[self.i]
            take = len(p) - self.off
            if take > room - n:
                take = room - n
            if take == len(p):
                buf[n:n + take] = p  # a whole piece: no view to allocate
            else:  # a view of the part that fits: still no copy of the piece
                buf[n:n + take] = memoryview(p)[self.off:self.off + take]
            n += take
            self.off += take
            if self.off == len(p):
                self.i += 1
                self.off = 0
        self.pos += n
        return n

    def seek(self, offset, whence=0):
        # Only the two positions the server asks for: the start and the end.
        if whence == 2 or offset:
            self.i, self.off, self.pos = len(self.pieces), 0, self.length
        else:
            self.i, self.off, self.pos = 0, 0, 0
        return self.pos

    def tell(self):
        return self.pos

    def close(self):
        self.pieces = ()


def _open_object(obj):
    """``obj`` as JSON bytes without the closing brace, so more members can follow."""
    s = json.dumps(obj)
    return s[:-1].encode()


# describe() members that the devices of one driver class share (the command schema and
# what surrounds it): rendered once per schema, not once per device.
_SHARED = ("kind", "commands", "exclusive", "events")


class Catalog:
    """Static JSON of each device (and of the board), rendered once; live state per request."""

    def __init__(self, board_head, devices):
        self.devices = devices
        # device name -> (b'{"name": ..., "label": ..., ', b'"kind": ..., "commands": [...], ...')
        self.heads = {}
        by_schema = {}  # type: dict
        for dev in devices:
            info = dev.describe()
            info.pop("state", None)
            shared = {}
            for key in _SHARED:
                if key in info:
                    shared[key] = info.pop(key)
            schema = (dev.kind, id(dev.COMMANDS), id(dev.EXCLUSIVE), id(dev.EVENTS))
            members = by_schema.get(schema)
            if members is None:
                members = by_schema[schema] = json.dumps(shared)[1:-1].encode()
            self.heads[dev.name] = (_open_object(info) + b", ", members)
        # b'{"board": {...}, "hostname": "...", "devices": ['; the rest follows per request.
        self.board_head = _open_object(board_head) + b', "devices": ['

    def _add_device(self, out, dev):
        own, members = self.heads[dev.name]
        out.append(own)
        out.append(members)
        out.append(_STATE)
        out.append(json.dumps(dev.state()).encode())
        out.append(b"}")

    def _add_devices(self, out):
        first = True
        for dev in self.devices:
            if not first:
                out.append(b", ")
            first = False
            self._add_device(out, dev)

    def device(self, dev):
        """One device's description (as ``dev.describe()``), as a body."""
        out = []  # type: list
        self._add_device(out, dev)
        return Pieces(out)

    def device_list(self):
        """``{"devices": [...]}`` as a body."""
        out = [b'{"devices": [']
        self._add_devices(out)
        out.append(b"]}")
        return Pieces(out)

    def board(self, live):
        """The board head, the devices, then the members of ``live``, a small non-empty dict
        (Wi-Fi, problems, auth), rendered now."""
        out = [self.board_head]
        self._add_devices(out)
        out.append(b"], ")
        # The live dict's members without its opening brace (a view, not a copy).
        out.append(memoryview(json.dumps(live).encode())[1:])
        return Pieces(out)
