"""CORS (WHATWG Fetch, section 3.2 "CORS protocol") for microhttp.

    from microhttp.cors import CORS

    CORS(origins=("http://dashboard.local",), methods=("GET", "POST"), headers=("Content-Type",),
         credentials=True, max_age=600).install(app)

Preflight requests (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) are
answered here with 204 and the allowed methods/headers, or 403 when the origin, method or a
requested header is not allowed. Other responses to an allowed origin get
``Access-Control-Allow-Origin`` (the origin itself when credentials are allowed: Fetch forbids
``*`` there) and, unless every origin is allowed without credentials, ``Vary: Origin`` so caches
keep one copy per origin.
"""


def add_vary(response, field):
    """Add ``field`` to the response's Vary list (RFC 9110 section 12.5.5) once."""
    vary = response.headers.get("Vary")
    if not vary:
        response.headers["Vary"] = field
    elif field.lower() not in [listed.strip().lower() for listed in vary.split(",")]:
        response.headers["Vary"] = vary + ", " + field


class CORS:
    """``origins``: "*" or a tuple of exact origins ("scheme://host[:port]")."""

    def __init__(self, origins="*", methods=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"),
                 headers=("Content-Type", "Authorization"), credentials=False, max_age=600, expose=()):
        if origins == "*" and credentials:
            raise ValueError("credentials need explicit origins (Fetch 3.2.5)")
        self.origins = origins
        self.methods = [method.upper() for method in methods]
        self.headers = [name.lower() for name in headers]
        self.credentials = credentials
        self.max_age = max_age
        self.expose = expose
        # The preflight answer's field values, joined once.
        self._allow_methods = ", ".join(self.methods)
        self._allow_headers = ", ".join(headers)

    def allowed(self, origin):
        return bool(origin) and (self.origins == "*" or origin in self.origins)

    def _allow_origin(self, response, origin):
        if self.origins == "*" and not self.credentials:
            response.headers["Access-Control-Allow-Origin"] = "*"
        else:
            response.headers["Access-Control-Allow-Origin"] = origin
        if self.credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"

    def preflight(self, request):
        """The response to a CORS preflight, or None when ``request`` is not one."""
        from microhttp.response import Response

        headers = request.headers
        origin = headers.get("Origin")
        method = headers.get("Access-Control-Request-Method")
        if request.method != "OPTIONS" or not origin or not method:
            return None
        allowed = self.allowed(origin) and method.strip().upper() in self.methods
        requested = headers.get("Access-Control-Request-Headers", "")
        for name in requested.split(","):
            name = name.strip().lower()
            if name and name not in self.headers:
                allowed = False
        if not allowed:
            response = Response("CORS request not allowed", 403)
        else:
            response = Response(b"", 204, {"Access-Control-Allow-Methods": self._allow_methods,
                                           "Access-Control-Max-Age": str(self.max_age)})
            if self._allow_headers:
                response.headers["Access-Control-Allow-Headers"] = self._allow_headers
            self._allow_origin(response, origin)
        add_vary(response, "Origin")
        return response

    def decorate(self, request, response):
        """Add the CORS response headers for an actual (non-preflight) request."""
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            return response  # preflight() already decided (and refused ones stay bare)
        origin = request.headers.get("Origin")
        if self.allowed(origin):
            self._allow_origin(response, origin)
            if self.expose:
                response.headers["Access-Control-Expose-Headers"] = ", ".join(self.expose)
        if self.origins != "*" or self.credentials:
            add_vary(response, "Origin")
        return response

    def install(self, app):
        @app.before_request
        def _cors_preflight(request):
            return self.preflight(request)

        @app.after_request
        def _cors_headers(request, response):
            return self.decorate(request, response)
