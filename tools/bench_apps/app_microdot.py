"""The benchmark app on Microdot 2.7.0 (copied from the installed wheel at benchmark time)."""

import asyncio

import bench_common as c
from microdot import Microdot, Response

PAGE = c.make_page()
app = Microdot()


@app.get("/")
async def index(request):
    return Response(PAGE, headers={"Content-Type": "text/html"})


@app.get("/api/status")
async def status(request):
    return c.status()


@app.post("/api/led")
async def led(request):
    c.State.led = bool(request.json["on"])
    return {"on": c.State.led}


@app.get("/_mem/start")
async def mem_start(request):
    return c.mem_start()


@app.get("/_mem/stop")
async def mem_stop(request):
    return c.mem_stop()


@app.get("/_modules")
async def modules(request):
    return c.modules()


async def main(port):
    task = asyncio.create_task(app.start_server(host="127.0.0.1", port=port))
    await asyncio.sleep(0)  # let start_server bind before announcing
    while app.server is None:
        await asyncio.sleep(0.01)
    c.ready("microdot", port)
    await task


asyncio.run(main(c.port_from_argv()))
