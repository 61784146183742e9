"""The board's description for /api/board and /api/devices, with small allocations only.

Why: a device's description is mostly static (label, the command schema with help texts,
exclusive groups, events, timings: nearly all of what /api/board answers); only its ``state``
changes. Building it per request with ``describe()`` and one ``json.dumps`` makes one string of
the whole answer, which needs a contiguous free block, and with several requests at once a
fragmented heap has none left while much more is free (503s from MemoryError). Keeping that
JSON rendered in RAM instead costs its whole size for the whole run.

So the answer is a list of pieces sent as a file-like body, which the server copies through
its own output buffer (``readinto``) with a Content-Length: small constant parts as bytes,
made once; each field of a command schema as the field's own dict, rendered to JSON only when
the body reaches it (the driver class holds those dicts anyway); the live state rendered per
request. No piece is larger than one field or one device's state (a few hundred bytes), and
the length is known up front because a dict renders to the same JSON every time: the lengths
are measured once, at boot.
"""

import json

from microhttp.compat import utf8

_STATE = b', "state": '  # the live part, last in every device object


class Pieces:
    """A read-only file over a list of pieces: what microhttp streams as a body.

    A piece is bytes-like, or a dict rendered to JSON when ``readinto`` reaches it (its length
    is given: ``length`` is the whole body's, in bytes, as JSON text may hold non-ASCII
    labels). ``readinto`` copies the next bytes into the caller's buffer (the server's output buffer); ``seek(0, 2)``/``tell()`` give the length up
    front, for Content-Length.
    """

    def __init__(self, pieces, length=None):
        self.pieces = pieces
        if length is None:
            length = 0
            for p in pieces:
                length += len(p)
        self.length = length
        self.i = 0  # the piece readinto copies from next
        self.off = 0  # how much of it was copied already
        self.rendered = None  # that piece as bytes, while it is a dict being copied
        self.pos = 0

    def _piece(self):
        p = self.pieces[self.i]
        if isinstance(p, dict):
            if self.rendered is None:
                self.rendered = utf8(json.dumps(p))
            return self.rendered
        return p

    def readinto(self, buf):
        room = len(buf)
        n = 0
        while n < room and self.i < len(self.pieces):
            p = self._piece()
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
                self.rendered = None
        self.pos += n
        return n

    def seek(self, offset, whence=0):
        # Only the two positions the server asks for: the start and the end.
        if whence == 2 or offset:
            self.i, self.off, self.pos = len(self.pieces), 0, self.length
        else:
            self.i, self.off, self.pos = 0, 0, 0
        self.rendered = None
        return self.pos

    def tell(self):
        return self.pos

    def close(self):
        self.pieces = ()
        self.rendered = None


def _open_object(obj):
    """``obj`` as JSON bytes without the closing brace, so more members can follow."""
    s = json.dumps(obj)
    return s[:-1].encode()


# describe() members that the devices of one driver class share (the command schema and what
# surrounds it), each with what precedes its value in the JSON: laid out once per schema (a
# tuple of pieces, the constant ones shared) and measured once.
_SHARED = (("kind", b'"kind": '), ("commands", b', "commands": ['), ("exclusive", b', "exclusive": '),
           ("events", b', "events": '))


def _schema_pieces(shared):
    """``shared`` (the _SHARED members of a describe()) as pieces, and their JSON length:
    constant parts as bytes, each command's field spec as its dict."""
    pieces = []  # type: list
    for key, opener in _SHARED:
        pieces.append(opener)
        if key == "commands":
            for i, spec in enumerate(shared[key]):
                if i:
                    pieces.append(b", ")
                pieces.append(spec)
            pieces.append(b"]")
        else:
            pieces.append(json.dumps(shared[key]).encode())
    length = 0
    for piece in pieces:
        length += len(utf8(json.dumps(piece))) if isinstance(piece, dict) else len(piece)
    return tuple(pieces), length


class Catalog:
    """The static parts of each device's (and the board's) JSON, laid out once; the live state
    rendered per request."""

    def __init__(self, board_head, devices):
        self.devices = devices
        # device name -> (b'{"name": ..., "label": ..., ', schema pieces, their length)
        self.heads = {}
        by_schema = {}  # type: dict
        for dev in devices:
            info = dev.describe()
            info.pop("state", None)
            shared = {}
            for key, _ in _SHARED:
                shared[key] = info.pop(key)
            schema = (dev.kind, id(dev.COMMANDS), id(dev.EXCLUSIVE), id(dev.EVENTS))
            laid_out = by_schema.get(schema)
            if laid_out is None:
                laid_out = by_schema[schema] = _schema_pieces(shared)
            self.heads[dev.name] = (_open_object(info) + b", ",) + laid_out
        # b'{"board": {...}, "hostname": "...", "devices": ['; the rest follows per request.
        self.board_head = _open_object(board_head) + b', "devices": ['

    def _add_device(self, out, dev):
        """Append ``dev``'s pieces to ``out``; returns their length."""
        own, schema, schema_length = self.heads[dev.name]
        state = utf8(json.dumps(dev.state()))
        out.append(own)
        out.extend(schema)
        out.append(_STATE)
        out.append(state)
        out.append(b"}")
        return len(own) + schema_length + len(_STATE) + len(state) + 1

    def _add_devices(self, out):
        length = 0
        for i, dev in enumerate(self.devices):
            if i:
                out.append(b", ")
                length += 2
            length += self._add_device(out, dev)
        return length

    def device(self, dev):
        """One device's description (as ``dev.describe()``), as a body."""
        out = []  # type: list
        return Pieces(out, self._add_device(out, dev))

    def device_list(self):
        """``{"devices": [...]}`` as a body."""
        out = [b'{"devices": [']
        length = self._add_devices(out)
        out.append(b"]}")
        return Pieces(out, length + 15)

    def board(self, live):
        """The board head, the devices, then the members of ``live``, a small non-empty dict
        (Wi-Fi, problems, auth), rendered now."""
        out = [self.board_head]
        length = len(self.board_head) + self._add_devices(out)
        # The live dict's members without its opening brace (a view, not a copy).
        members = memoryview(utf8(json.dumps(live)))[1:]
        out.append(b"], ")
        out.append(members)
        return Pieces(out, length + 3 + len(members))


def for_firmware(firmware):
    """The catalog of the running firmware's board and devices (app.firmware.Firmware)."""
    board = firmware.board
    return Catalog({
        "board": {"id": getattr(board, "id", None) or firmware.board_id,
                  "name": getattr(board, "name", None) or firmware.board_id},
        "hostname": firmware.settings["hostname"],
    }, firmware.device_list)
