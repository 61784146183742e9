# microhttp.streams: streamed bodies, loaded on first use. A request body read as an async
# iterator (Request.stream()), and response bodies that are not plain bytes: files (with
# readinto, sent through the output buffer) and iterators of chunks (chunked encoding, RFC 9112
# section 7.1; close-delimited for HTTP/1.0).


class BodyIterator:
    """``async for chunk in request.stream()``: the body in bytes chunks."""

    def __init__(self, req):
        self.req = req

    def __aiter__(self):
        return self

    async def __anext__(self):
        d = await self.req._data()
        if d is None:
            raise StopAsyncIteration
        return bytes(d)


async def send_body(c, b, n, mv, k):
    """Write head ``mv[:k]`` and body ``b``: a file when it has readinto, else an iterator
    of chunks; ``n`` < 0 for chunked encoding, None when the close ends the body."""
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
