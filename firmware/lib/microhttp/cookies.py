# microhttp.cookies: Set-Cookie fields (RFC 6265 section 4.1), loaded by Response.set_cookie()
# on first use.


def set_cookie(response, name, value, max_age=None, path="/", http_only=True, same_site="Lax",
               secure=False, expires=None):
    field = "%s=%s; Path=%s" % (name, value, path)
    if max_age is not None:
        field += "; Max-Age=%d" % max_age
    if expires:
        field += "; Expires=" + expires
    if http_only:
        field += "; HttpOnly"
    if same_site:
        field += "; SameSite=" + same_site
    if secure:
        field += "; Secure"
    if response.cookies is None:
        response.cookies = []
    response.cookies.append(field)


def delete_cookie(response, name, path):
    # An expired, empty cookie: the browser drops its copy (RFC 6265 section 3.1).
    set_cookie(response, name, "", 0, path, expires="Thu, 01 Jan 1970 00:00:00 GMT")
