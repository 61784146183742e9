# microhttp.streams: streamed response bodies, loaded on first use: bodies that are not plain
# bytes, i.e. files (with readinto, sent through the output buffer) and iterators of chunks
# (chunked encoding, RFC 9112 section 7.1; close-delimited for HTTP/1.0).


def length(b, h, v10):
    """The Content-Length of file ``b`` (its content-length header, else its size); for an
    iterator, -1 (chunked) or None for HTTP/1.0 (the close ends the body)."""
    if hasattr(b, "readinto"):
        n = h.get("content-length")
        if n is None:
            b.seek(0, 2)
            n = b.tell()
            b.seek(0)
        return int(n)
    return None if v10 else -1


async def send_body(c, b, n, mv, k):
    """Write head ``mv[:k]`` and body ``b`` (a file or an iterator of chunks; ``n`` as from
    length()), then close ``b`` if it can be closed, whatever happened."""
    try:
        await _send(c, b, n, mv, k)
    finally:
        if hasattr(b, "close"):
            b.close()


async def _send(c, b, n, mv, k):
    if hasattr(b, "readinto"):
        # Files stream through the output buffer; the first piece rides with the head.
        while True:
            m = b.readinto(mv[k:]) or 0
            if not k + m:
                return
            await c.write(mv[:k + m])
            k = 0
    await c.write(mv[:k])
    a = hasattr(b, "__anext__")
    it = b if a else iter(b)
    while True:
        try:
            x = await b.__anext__() if a else next(it)
        except (StopAsyncIteration, StopIteration):
            break
        if isinstance(x, str):
            x = x.encode()
        if x:
            await c.write(b"%x\r\n%s\r\n" % (len(x), x) if n else x)
    if n:
        await c.write(b"0\r\n\r\n")
