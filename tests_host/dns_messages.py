"""DNS messages for the captive-portal DNS tests, on both runtimes: a query to send and the A
records of a reply (RFC 1035 section 4.1)."""


def query(name, qtype=1, ident=0x1234, rd=True):
    """A DNS query message for ``name`` (RFC 1035 section 4.1), recursion desired unless ``rd``."""
    out = bytearray()
    out += bytes((ident >> 8, ident & 0xFF, 0x01 if rd else 0x00, 0, 0, 1, 0, 0, 0, 0, 0, 0))
    for label in name.split("."):
        out.append(len(label))
        out += label.encode()
    out += bytes((0, qtype >> 8, qtype & 0xFF, 0, 1))
    return bytes(out)


def parse_a(reply):
    """(id, flags, answers) where answers is a list of dotted addresses in A records."""
    ident = reply[0] << 8 | reply[1]
    flags = reply[2] << 8 | reply[3]
    ancount = reply[6] << 8 | reply[7]
    i = 12
    while reply[i]:
        i += 1 + reply[i]
    i += 5
    addrs = []
    for _ in range(ancount):
        assert reply[i] == 0xC0 and reply[i + 1] == 12  # compressed pointer to the question
        rtype = reply[i + 2] << 8 | reply[i + 3]
        rdlen = reply[i + 10] << 8 | reply[i + 11]
        if rtype == 1:
            addrs.append(".".join(str(b) for b in reply[i + 12:i + 12 + rdlen]))
        i += 12 + rdlen
    assert i == len(reply)
    return ident, flags, addrs
