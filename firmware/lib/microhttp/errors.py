# microhttp errors: every error carries the HTTP status it should be answered with.


class HTTPError(Exception):
    """An error answered with ``status`` and a JSON body ``{"error": message}``."""

    def __init__(self, status, message=None, headers=None):
        super().__init__(message or "HTTP %d" % status)
        self.status = status
        self.message = message or "HTTP %d" % status
        self.headers = headers
