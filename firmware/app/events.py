"""Live events: every device state change and button event, fanned out to every open page.

Devices call back synchronously (from their own tasks or a command handler); ``Live`` turns
each callback into one small JSON event on the SSE hub, which keeps a short replay buffer for
``Last-Event-ID`` and sends heartbeats. A page that reconnects also re-reads ``/api/board``,
so after a reboot (replay buffer gone) it still shows the current state.

Event types on the stream:
    state   {"name": "led", "state": {...}}
    button  {"name": "button", "event": "press"|"release"|"click"|..., "state": {...}, "data": ...}
"""

import json


class Live:
    def __init__(self, hub):
        self.hub = hub
        self.published = 0
        self._unsubscribe = []

    def watch(self, devices):
        for dev in devices:
            self._unsubscribe.append(dev.subscribe(self._on_event))

    def _on_event(self, device, event, data):
        if event == "state":
            self.publish("state", {"name": device.name, "state": data})
        else:
            self.publish("button", {"name": device.name, "event": event, "state": device.state(), "data": data})

    def publish(self, event, payload):
        try:
            self.hub.publish(json.dumps(payload), event=event)
            self.published += 1
        except Exception as exc:  # a full or broken hub must not break the driver calling us
            print("events: publish failed:", repr(exc))

    def close(self):
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
