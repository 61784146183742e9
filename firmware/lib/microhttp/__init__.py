# microhttp: a memory-frugal HTTP/1.1 server for MicroPython (and CPython) asyncio.
#
#   from microhttp import App, Request, Response, HTTPError
#
# The core is h1 (sans-I/O parser), router (App), request, response, server and errors;
# extensions (static, websocket, sse, auth, session, cors, csrf, multipart) are separate
# modules, imported only by the apps that use them. microhttp.log is the bounded logger.
#
# The four names above load their modules on first use (a module's __getattr__, PEP 562):
# code that needs only microhttp.compat (the drivers take their timing from it) does not load
# the server into the heap with it.
#
# Deviations from the shared contract, deliberately:
# - request.stream() chunks are bytes; on MicroPython (no async generators) a streamed
#   response body is an object with __aiter__/__anext__, or a sync iterator inside a Response.
# - An HTTP/1.1 request without Host is answered 400 (RFC 9112 section 3.2).

__version__ = "0.1.0"
__all__ = ("App", "Request", "Response", "HTTPError")

# Each public name and the module that defines it.
_EXPORTS = {
    "App": "microhttp.router",
    "Request": "microhttp.request",
    "Response": "microhttp.response",
    "HTTPError": "microhttp.errors",
}

TYPE_CHECKING = False  # true for the type checker (tools/check_firmware.py), never at run time
if TYPE_CHECKING:
    from microhttp.errors import HTTPError
    from microhttp.request import Request
    from microhttp.response import Response
    from microhttp.router import App


def __getattr__(name):
    # Called only for a name this module does not have yet: a public name, loaded and then
    # kept here; or a submodule that `from microhttp import name` asks for before it is
    # imported (MicroPython asks the package first, and takes this function's answer).
    if name.startswith("_"):
        raise AttributeError(name)
    if name in _EXPORTS:
        value = getattr(__import__(_EXPORTS[name], None, None, (name,)), name)
        globals()[name] = value
        return value
    return __import__("microhttp." + name, None, None, (name,))
