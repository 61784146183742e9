# microhttp: a memory-frugal HTTP/1.1 server for MicroPython (and CPython) asyncio.
#
#   from microhttp import App, Request, Response, HTTPError
#
# The core is h1 (sans-I/O parser), router (App), request, response, server and errors;
# extensions (static, websocket, sse, auth, session, cors, csrf, multipart) are separate
# modules, imported only by the apps that use them. microhttp.log is the bounded logger.
#
# Deviations from the shared contract, deliberately:
# - request.stream() chunks are bytes; on MicroPython (no async generators) a streamed
#   response body is an object with __aiter__/__anext__, or a sync iterator inside a Response.
# - An HTTP/1.1 request without Host is answered 400 (RFC 9112 section 3.2).
from microhttp.errors import HTTPError
from microhttp.request import Request
from microhttp.response import Response
from microhttp.router import App

__version__ = "0.1.0"
__all__ = ("App", "Request", "Response", "HTTPError")
