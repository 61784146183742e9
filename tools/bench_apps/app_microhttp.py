"""The benchmark app on microhttp (firmware/lib/microhttp, compiled to .mpy)."""

import asyncio

import bench_common as c
from microhttp import App, Response

PAGE = c.make_page()
app = App()


@app.get("/")
async def index(request):
    return Response(PAGE, content_type="text/html")


@app.get("/api/status")
async def status(request):
    return c.status()


@app.post("/api/led")
async def led(request):
    c.State.led = bool((await request.json())["on"])
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
    await app.start("127.0.0.1", port)
    c.ready("microhttp", port)
    while True:
        await asyncio.sleep(3600)


asyncio.run(main(c.port_from_argv()))
