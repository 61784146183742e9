# A test app for the microhttp server tests: run with --port N and optional limits.
#   micropython tests_host/apps/http_app.py --port 8080 [--name value ...]
# Numeric options are passed to App.start() as limits (max_conns, idle_timeout, ...).
import asyncio
import gc
import sys

from microhttp import App, HTTPError, Response

app = App(max_body=4096)
sub = App()
app.mount(sub, "/sub")


@app.get("/")
def index(req):
    return "<h1>hello</h1>" * 10, 200, {"Content-Type": "text/html; charset=utf-8"}


@app.get("/api/status")
async def status(req):
    return {"ok": True, "q": req.query.get("q"), "all": req.query.getall("q")}


@app.route("/api/echo", methods=("POST", "PUT"))
async def echo(req):
    return await req.body(), 200, {"content-type": "application/octet-stream"}


@app.post("/api/led")
async def led(req):
    d = await req.json()
    if not isinstance(d.get("on"), bool):
        raise HTTPError(400, "field 'on' must be a boolean")
    return {"on": d["on"]}


@app.post("/api/count")
async def count(req):
    n = 0
    async for chunk in req.stream(max_size=1 << 20):
        n += len(chunk)
    return {"bytes": n}


@app.get("/items/<int:id>")
def item(req, id):
    return {"id": id, "type": type(id).__name__}


@app.get("/files/<path:p>")
def files(req, p):
    return p


@app.get("/oom")
def oom(req):
    raise MemoryError("injected")


@app.get("/boom")
def boom(req):
    raise ValueError("boom")


@app.get("/big")
def big(req):
    # Allocates far more than a small heap has: the server must answer 503 and carry on.
    return bytes(512 * 1024)


@app.get("/slow")
async def slow(req):
    await asyncio.sleep(float(req.query.get("s", "0.5")))
    return "slow done"


class Chunks:
    def __init__(self, n):
        self.i, self.n = 0, n

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.i >= self.n:
            raise StopAsyncIteration
        self.i += 1
        return "chunk%d;" % self.i


@app.get("/stream")
def stream(req):
    return Response(Chunks(int(req.query.get("n", "3"))))


@app.get("/cookie")
def cookie(req):
    r = Response("seen " + req.cookies.get("a", "-"))
    r.set_cookie("a", "1", max_age=60)
    r.set_cookie("b", "2")
    return r


@app.get("/redirect")
def redirect(req):
    return Response.redirect("/")


@app.get("/mem")
def mem(req):
    gc.collect()
    return {"free": gc.mem_free() if hasattr(gc, "mem_free") else -1}


@sub.get("/hello/<name>")
def hello(req, name):
    return "hi " + name


@app.errorhandler(ValueError)
def value_error(req, exc):
    return {"error": "value: " + str(exc)}, 500


async def main():
    args = sys.argv[1:]
    opts = {}
    for i in range(0, len(args), 2):
        v = args[i + 1]
        opts[args[i][2:]] = float(v) if "." in v else int(v)
    port = opts.pop("port")
    server = await app.start("127.0.0.1", port, **opts)

    @app.post("/shutdown")
    async def shutdown(req):
        asyncio.create_task(server.close())
        return "bye"

    print("listening on", port)
    await server.wait_closed()
    print("closed")


asyncio.run(main())
