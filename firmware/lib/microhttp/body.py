# microhttp.body: request bodies read by a handler (Request.body(), json(), form() and
# stream()), loaded when a handler first reads one. The connection hands out the body's
# pieces (microhttp.server.Connection.body_piece); this module makes them bytes, JSON or a form.
from microhttp.errors import HTTPError


class BodyIterator:
    """``async for chunk in request.stream()``: the body in bytes chunks."""

    def __init__(self, request):
        self.connection = request.connection

    def __aiter__(self):
        return self

    async def __anext__(self):
        piece = await self.connection.body_piece()
        if piece is None:
            raise StopAsyncIteration
        return bytes(piece)


async def read(request):
    # The whole body as bytes, read once and kept on the request.
    body = request.received
    if body is None:
        connection = request.connection
        parser = connection.parser
        if parser.length > parser.max_body:
            raise HTTPError(413, "body too large")
        piece = await connection.body_piece()
        if piece is not None and len(piece) == parser.length:
            # The whole body was already buffered: one copy, no intermediate bytearray.
            body = bytes(piece)
            await connection.body_piece()
        else:
            body = bytearray(max(parser.length, 0))
            at = 0
            while piece is not None:
                if parser.length < 0:
                    body.extend(piece)  # chunked: bounded by max_body in the parser
                else:
                    body[at:at + len(piece)] = piece
                    at += len(piece)
                piece = await connection.body_piece()
            body = bytes(body)
        request.received = body
    return body


async def read_json(request):
    import json

    body = await read(request)
    try:
        return json.loads(body)
    except ValueError:
        raise HTTPError(400, "invalid JSON")


async def read_form(request):
    from microhttp.parse import form

    return form(await read(request))
