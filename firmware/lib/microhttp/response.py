# microhttp.response: what a handler returns, normalised in one place (make).
from microhttp.h1 import Headers

JSON = "application/json"


class Response:
    """An HTTP response.

    :param body: bytes, str, a file object with ``readinto`` (streamed through the connection's
        buffer), or an async iterator / (inside a Response) a sync iterator of bytes or str
        chunks (sent with chunked encoding).
    :param status: status code
    :param headers: dict of header fields (names are case-insensitive)
    :param content_type: sets Content-Type
    Set ``.takeover = async fn(request)`` to own the connection after the head (WebSocket, SSE).
    """

    # Class-level defaults: most responses never set these, so they take no per-instance room.
    cookies = None  # type: list | None  # the Set-Cookie values, once set_cookie() is called
    takeover = None  # type: object  # async fn(request) that owns the connection after the head

    def __init__(self, body=b"", status=200, headers=None, content_type=None):
        self.body = body
        self.status = status
        self.headers = fields = Headers()
        if headers:
            for name in headers:
                fields[name] = headers[name]
        if content_type:
            fields["content-type"] = content_type

    def set_cookie(self, *args, **options):
        """``set_cookie(name, value, max_age=None, path="/", http_only=True, same_site="Lax",
        secure=False, expires=None)``: add a Set-Cookie field (RFC 6265 section 4.1)."""
        from microhttp.cookies import set_cookie

        set_cookie(self, *args, **options)

    def delete_cookie(self, name, path="/"):
        from microhttp.cookies import delete_cookie

        delete_cookie(self, name, path)

    @staticmethod
    def redirect(location, status=302):
        return Response(b"", status, {"location": location})

    @staticmethod
    def json(obj, status=200):
        import json

        return Response(json.dumps(obj), status, content_type=JSON)


def make(result):
    """Turn a handler's return value into a Response: a Response, None (204), a body (str,
    bytes, a file, an iterator of chunks; a dict or list becomes JSON), or a tuple
    ``(body, status)`` or ``(body, status, headers)``."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(b"", 204)
    status, headers = 200, None
    if isinstance(result, tuple):
        if len(result) > 2:
            headers = result[2]
        status = result[1]
        result = result[0]
        if isinstance(result, Response):
            result.status = status
            if headers:
                for name in headers:
                    result.headers[name] = headers[name]
            return result
    if isinstance(result, (dict, list)):
        import json

        return Response(json.dumps(result), status, headers, JSON)
    return Response(result, status, headers)
