# microhttp errors: every error carries the HTTP status it should be answered with.


class HTTPError(Exception):
    """An error answered with ``status`` and a JSON body ``{"error": message}``; without a
    ``message`` the body carries the status's reason phrase (``microhttp.router.REASONS``)."""

    def __init__(self, status, message=None, headers=None):
        super().__init__(message or status)
        self.status = status
        self.message = message
        self.headers = headers
