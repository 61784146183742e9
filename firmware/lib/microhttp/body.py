# microhttp.body: request bodies read by a handler (Request.body(), json(), form() and
# stream()), loaded when a handler first reads one: on a board, loaded bytecode takes heap.
from microhttp.errors import HTTPError


async def data(req):
    # The next body piece as a view into the connection buffer, or None at the end.
    c = req.conn
    while not c.done:
        ev = c.p.next()
        if ev == 2:  # h1.DATA
            return c.p.data
        if ev == 3:  # h1.END
            c.done = True
        elif not await c.fill(2):
            raise HTTPError(400, "incomplete body")


def skip(c):
    # Connection c's handler did not read the whole body: discard it if it is already
    # buffered (the connection stays open), otherwise close (reading an unwanted upload would
    # only waste the slot).
    try:
        while not c.done:
            ev = c.p.next()
            if not ev:
                return False
            c.done = ev == 3  # h1.END
    except HTTPError:
        return False
    return True


class BodyIterator:
    """``async for chunk in request.stream()``: the body in bytes chunks."""

    def __init__(self, req):
        self.req = req

    def __aiter__(self):
        return self

    async def __anext__(self):
        d = await data(self.req)
        if d is None:
            raise StopAsyncIteration
        return bytes(d)


async def read(req):
    # The whole body as bytes, read once and kept on the request.
    b = getattr(req, "_b", None)
    if b is None:
        p = req.conn.p
        if p.length > p.max_body:
            raise HTTPError(413, "body too large")
        d = await data(req)
        if d is not None and len(d) == p.length:
            # The whole body was already buffered: one copy, no intermediate bytearray.
            b = bytes(d)
            await data(req)
        else:
            b = bytearray(max(p.length, 0))
            i = 0
            while d is not None:
                if p.length < 0:
                    b.extend(d)  # chunked: bounded by max_body in the parser
                else:
                    b[i:i + len(d)] = d
                    i += len(d)
                d = await data(req)
            b = bytes(b)
        req._b = b
    return b


async def read_json(req):
    import json

    b = await read(req)
    try:
        return json.loads(b)
    except ValueError:
        raise HTTPError(400, "invalid JSON")


async def read_form(req):
    from microhttp.parse import form

    return form(await read(req))
