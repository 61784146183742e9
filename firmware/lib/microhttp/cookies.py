# microhttp.cookies: Set-Cookie fields (RFC 6265 section 4.1), loaded by Response.set_cookie()
# on first use.


def set_cookie(resp, name, value, max_age=None, path="/", http_only=True, same_site="Lax",
               secure=False, expires=None):
    c = "%s=%s; Path=%s" % (name, value, path)
    if max_age is not None:
        c += "; Max-Age=%d" % max_age
    if expires:
        c += "; Expires=" + expires
    if http_only:
        c += "; HttpOnly"
    if same_site:
        c += "; SameSite=" + same_site
    if secure:
        c += "; Secure"
    if resp.cookies is None:
        resp.cookies = []
    resp.cookies.append(c)


def delete_cookie(resp, name, path):
    # An expired, empty cookie: the browser drops its copy (RFC 6265 section 3.1).
    set_cookie(resp, name, "", 0, path, expires="Thu, 01 Jan 1970 00:00:00 GMT")
