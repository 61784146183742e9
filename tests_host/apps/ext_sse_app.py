"""SSE test app for tests_host/live/test_sse_live.py, on both runtimes.

    GET  /events        the hub's event stream (history 5, heartbeat 0.2 s, retry 500 ms)
    POST /publish       publishes the body (event name from ?event=); returns {"id": ...}
    GET  /clients       streams currently served
    GET  /quiet         a second hub's stream: no heartbeat within the test (3600 s), no events
    GET  /quiet/clients streams it currently serves

Usage: ext_sse_app.py PORT
"""

import sys

from microhttp import App
from microhttp.sse import EventHub
from serving import serve_forever

port = int(sys.argv[1])
app = App()
hub = EventHub(history=5, heartbeat=0.2, retry=500, max_clients=3)
quiet = EventHub(heartbeat=3600)


@app.get("/events")
async def events(request):
    return hub.response(request)


@app.post("/publish")
async def publish(request):
    data = (await request.body()).decode()
    return {"id": hub.publish(data, event=request.query.get("event"))}


@app.get("/clients")
async def clients(request):
    return {"clients": hub.clients}


@app.get("/quiet")
async def quiet_events(request):
    return quiet.response(request)


@app.get("/quiet/clients")
async def quiet_clients(request):
    return {"clients": quiet.clients}


serve_forever(app, port)
