"""Live events: every device state change and button event, fanned out to every open page.

Devices call back synchronously (from their own tasks or a command handler); ``Live`` turns
each callback into one small JSON event on the SSE hub, which keeps a short replay buffer for
``Last-Event-ID`` and sends heartbeats. A page that reconnects also re-reads ``/api/board``,
so after a reboot (replay buffer gone) it still shows the current state.

Event types on the stream:
    state   {"name": "led", "state": {...}}
    button  {"name": "button", "event": "press"|"release"|"click"|..., "state": {...}, "data": ...}
    log     {"line": "wifi: connected to 'home' as 192.168.1.40"}
    resync  {}: read /api/board again (the Wi-Fi state or the devices' names changed)
"""

import json


class Live:
    def __init__(self, hub):
        self.hub = hub
        self.published = 0
        self._watched = []
        self._callback = self._on_event  # one object, to subscribe and unsubscribe with

    def watch(self, devices):
        for dev in devices:
            dev.subscribe(self._callback)
            self._watched.append(dev)

    def _on_event(self, device, event, data):
        if event == "state":
            self.publish("state", {"name": device.name, "state": data})
        else:
            self.publish("button", {"name": device.name, "event": event, "state": device.state(), "data": data})

    def log_line(self, line):
        """A line of the firmware's log (app.firmware.log), to every open page. Only while a
        page is open: a page reads the earlier lines from /api/log when it connects, and the
        replay buffer keeps its room for the devices' events."""
        if self.hub.clients:
            self.publish("log", {"line": line})

    def publish(self, event, payload):
        try:
            self.hub.publish(json.dumps(payload), event=event)
            self.published += 1
        except Exception as exc:  # a full or broken hub must not break the driver calling us
            print("events: publish failed:", repr(exc))

    def close(self):
        for dev in self._watched:
            dev.unsubscribe(self._callback)
        self._watched = []
