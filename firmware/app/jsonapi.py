"""What every route of the device API shares: a request's JSON object body, and the error
answers that name the field at fault (docs/device-api.md, "Errors")."""

from microhttp import HTTPError, Response

JSON = "application/json"


def error(status, message, field=None):
    """``{"error": message, "field": field}`` with ``status``."""
    body = {"error": message}
    if field is not None:
        body["field"] = field
    return Response.json(body, status)


def refused(exc):
    """The 400 answer for a CommandError (drivers.device): its message and field."""
    return error(400, str(exc), exc.field)


async def json_object(request, max_size=None):
    """The request's body as a dict: 415 unless it is sent as JSON, 400 unless it is a JSON
    object; ``max_size`` lets a body larger than the app's max_body come (413 over it)."""
    # Requiring a JSON media type also stops cross-site HTML forms (which cannot send one
    # without a CORS preflight we never approve) from changing anything: a CSRF guard.
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype != JSON:
        raise HTTPError(415, "send the body as application/json")
    try:
        body = await request.json(max_size)
    except (HTTPError, OSError):
        raise  # the server answers an HTTPError and ends a connection whose peer is gone
    except Exception:
        raise HTTPError(400, "body is not valid JSON")
    if not isinstance(body, dict):
        raise HTTPError(400, "body must be a JSON object")
    return body
