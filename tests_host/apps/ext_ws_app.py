"""WebSocket test app for tests_host/live/test_ws_live.py, on both runtimes.

    /echo     echo every message (max_message 1024, no server pings)
    /pinged   echo, with server pings every 0.3 s and a 0.3 s pong timeout
    /closer   closes at once with 1008 "go away"
    /fail     raises inside the handler (the client must see 1011)
    /hub      joins the broadcast hub; POST /broadcast sends the body to every member
    /count    members of the hub
    /flood    sends ?n= x 2 KB messages while a member of the hub (concurrent senders)
Every connection end is printed as "WS END <path> <code>".

Usage: ext_ws_app.py PORT
"""

import sys

from microhttp import App
from microhttp.websocket import ConnectionClosed, Hub, websocket
from serving import serve_forever

port = int(sys.argv[1])
app = App()
hub = Hub(max_clients=4, send_timeout=2)


@app.get("/echo")
@websocket(max_message=1024)
async def echo(request, ws):
    try:
        while True:
            await ws.send(await ws.receive())
    except ConnectionClosed as exc:
        print("WS END /echo %d" % exc.code)


@app.get("/pinged")
@websocket(max_message=1024, ping_interval=0.3, ping_timeout=0.3)
async def pinged(request, ws):
    try:
        async for msg in ws:
            await ws.send(msg)
        print("WS END /pinged %d" % ws.close_code)
    except ConnectionClosed as exc:
        print("WS END /pinged %d" % exc.code)


@app.get("/closer")
@websocket()
async def closer(request, ws):
    await ws.close(1008, "go away")
    print("WS END /closer 1008")


@app.get("/fail")
@websocket()
async def fail(request, ws):
    await ws.receive()
    raise RuntimeError("handler bug (expected by the test)")


@app.get("/hub")
@websocket(max_message=256)
async def join(request, ws):
    await hub.serve(ws)
    print("WS END /hub %d" % (ws.close_code or 0))


@app.get("/flood")
@websocket(max_message=256)
async def flood(request, ws):
    # Sends ?n= messages of 2 KB while hub broadcasts go to the same connection.
    hub.add(ws)
    pad = "e" * 2000
    try:
        for i in range(int(request.query.get("n", "200"))):
            await ws.send("E%04d:" % i + pad)
        await ws.send("done")
        while True:
            await ws.receive()
    except ConnectionClosed:
        pass
    finally:
        hub.discard(ws)


@app.post("/broadcast")
async def broadcast(request):
    sent = await hub.broadcast((await request.body()).decode())
    return {"sent": sent, "members": len(hub)}


@app.get("/count")
async def count(request):
    return {"members": len(hub)}


serve_forever(app, port)
