"""Auth, sessions, CORS and CSRF test app for tests_host/live/test_auth_live.py, on both runtimes.

    GET  /public                 no protection
    GET  /basic                  Basic auth per route (admin / "correct horse")
    GET  /token                  Bearer auth per route (TOKEN below)
    GET  /locked                 Basic auth whose throttle locks out after 3 failures for 1 s
    GET  /admin/...              a mounted sub-app with Basic auth installed globally,
                                 except /admin/open
    POST /login                  form user=&password= -> signed session cookie
    GET  /me                     the session's user, or 401
    POST /logout                 clears the cookie
    /api/...                     CORS for http://good.example (credentials allowed)
    POST /hook                   exempt from CSRF; every other POST/PUT/DELETE is checked

Usage: ext_sec_app.py PORT
"""

import sys

from microhttp import App, Response
from microhttp.auth import BasicAuth, BearerAuth, Throttle, hash_secret
from microhttp.cors import CORS
from microhttp.csrf import CSRF
from microhttp.session import Sessions
from serving import serve_forever

TOKEN = "tok_3f9a0c6e1b7d4a2f8e5c"
port = int(sys.argv[1])
app = App()
users = {"admin": hash_secret("correct horse")}
basic = BasicAuth(users, realm="device", throttle=Throttle(max_failures=20))
bearer = BearerAuth({"phone": hash_secret(TOKEN, iterations=1)}, realm="api")
locked = BasicAuth(users, realm="locked", throttle=Throttle(max_failures=3, window=60, lockout=1))
sessions = Sessions(b"0123456789abcdef-test-secret", max_age=600, secure=True)
CSRF(trusted_origins=("http://good.example",), exempt=("/hook",)).install(app)
sessions.install(app)


@app.get("/public")
async def public(request):
    return "public"


@app.get("/basic")
@basic.required
async def basic_route(request):
    return "hello " + request.g["user"]


@app.get("/token")
@bearer.required
async def token_route(request):
    return "token for " + request.g["user"]


@app.get("/locked")
@locked.required
async def locked_route(request):
    return "unlocked"


admin = App()
basic.install(admin, exempt=("/admin/open",))  # full request paths


@admin.get("/open")
async def admin_open(request):
    return "open"


@admin.get("/panel")
async def admin_panel(request):
    return "panel for " + request.g["user"]


app.mount(admin, "/admin")


@app.post("/login")
async def login(request):
    form = await request.form()
    from microhttp.auth import verify_secret

    user = form.get("user", "")
    if user not in users or not verify_secret(form.get("password", ""), users[user]):
        return "bad login", 403
    resp = Response("welcome")
    sessions.save(resp, {"user": user})
    return resp


@app.get("/me")
async def me(request):
    user = request.g["session"].get("user")
    if not user:
        return "not logged in", 401
    return {"user": user}


@app.post("/logout")
async def logout(request):
    resp = Response("bye")
    sessions.clear(resp)
    return resp


@app.post("/hook")
async def hook(request):
    return "hook ok"


@app.post("/change")
async def change(request):
    return "changed"


api = App()
CORS(origins=("http://good.example",), methods=("GET", "POST", "PUT"), headers=("Content-Type", "X-Token"),
     credentials=True, max_age=300, expose=("X-Count",)).install(api)


@api.route("/items", methods=("GET", "PUT"))
async def items(request):
    return Response.json({"items": [1, 2]}) if request.method == "GET" else "put"


app.mount(api, "/api")


serve_forever(app, port)
