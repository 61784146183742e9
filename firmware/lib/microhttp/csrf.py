"""Cross-site request forgery protection by request origin, for microhttp.

    from microhttp.csrf import CSRF

    csrf = CSRF(trusted_origins=("http://dashboard.local",), exempt=("/api/webhook",))
    csrf.install(app)          # every state-changing route, except the exempt paths
    # or per route:  @app.post("/x") @csrf.protect async def x(request): ...

Browsers label each request with ``Sec-Fetch-Site`` (W3C Fetch Metadata, section 2.1) and, for
non-GET requests, ``Origin`` (RFC 6454 section 7; WHATWG Fetch "append a request Origin
header"). A request whose method is not safe (RFC 9110 section 9.2.1: anything but GET, HEAD,
OPTIONS, TRACE) is refused with 403 when it comes from another site: ``Sec-Fetch-Site`` is
``cross-site`` or ``same-site``, or, for browsers that do not send it, ``Origin`` names a host
other than the request's ``Host``; unless the origin is trusted. Requests with neither header
are not from a browser page (curl, scripts) and pass; they carry no ambient credentials an
attacker could borrow. No tokens, no per-form state, nothing to store.
"""

from microhttp.router import guarded, path_in

_SAFE = ("GET", "HEAD", "OPTIONS", "TRACE")


class CSRF:
    def __init__(self, trusted_origins=(), exempt=()):
        self.trusted = trusted_origins
        self.exempt = exempt  # paths; an entry ending in "*" is a prefix

    def check(self, request):
        """None when ``request`` may proceed, else a 403 response."""
        if request.method in _SAFE or path_in(request.path, self.exempt):
            return None
        headers = request.headers
        origin = headers.get("Origin")
        if origin and origin in self.trusted:
            return None
        site = headers.get("Sec-Fetch-Site")
        if site is not None:
            # "none": typed in the address bar or a bookmark; "same-origin": our own page.
            if site in ("same-origin", "none"):
                return None
            return self._deny("cross-site request refused")
        if origin is None:
            return None
        host = headers.get("Host", "")
        if origin != "null" and host and (origin == "http://" + host or origin == "https://" + host):
            return None
        return self._deny("cross-origin request refused")

    def _deny(self, reason):
        from microhttp.response import Response

        return Response(reason, 403)

    def protect(self, handler):
        """Route decorator: check this route even without ``install``."""
        return guarded(self.check, handler)

    def install(self, app):
        @app.before_request
        def _csrf_hook(request):
            return self.check(request)
