"""CPython client for the virtual board's control channel (tools/vboard/control.py).

    from tools.vboard.client import Client
    board = Client(7401)               # or Client() with $VBOARD_CONTROL_PORT set
    board.press("button", ms=100)      # a click: press, hold 100 ms, release
    board.press("button", bounce=5)    # press and hold, with 5 flips of contact chatter
    board.release("button")
    board.level(2)                     # 0 or 1
    board.pwm("led")                   # the PWM state the simulation reports, or None
    board.snapshot()                   # every pin

The module-level functions (press, release, level, pwm, snapshot) use a default client on
$VBOARD_CONTROL_PORT. A request that the board refuses raises ControlError with its reason.
"""

import json
import os
import socket
import time


class ControlError(RuntimeError):
    pass


class Client:
    def __init__(self, port=None, host="127.0.0.1", timeout=10.0, connect_timeout=10.0):
        if port is None:
            port = int(os.environ["VBOARD_CONTROL_PORT"])
        self.address = (host, int(port))
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._sock = None
        self._file = None

    # The channel lives in the firmware process, which a reset replaces: connect lazily, retry
    # for a bounded time, and reconnect once if the board went away between two requests.
    def _connect(self):
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                sock = socket.create_connection(self.address, timeout=self.timeout)
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise ControlError("no control channel at %s:%d (%s)" % (self.address + (exc,)))
                time.sleep(0.05)
        self._sock = sock
        self._file = sock.makefile("rb")

    def close(self):
        if self._sock is not None:
            self._file.close()
            self._sock.close()
        self._sock = self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, op, **fields):
        fields["op"] = op
        line = (json.dumps(fields) + "\n").encode()
        for attempt in (1, 2):
            if self._sock is None:
                self._connect()
            try:
                self._sock.sendall(line)
                reply = self._file.readline()
                if reply:
                    break
            except OSError:
                pass
            self.close()
            if attempt == 2:
                raise ControlError("the control channel closed during %r" % op)
        data = json.loads(reply)
        if not data.get("ok"):
            raise ControlError(data.get("error", "refused"))
        return data

    @staticmethod
    def _target(target):
        return {"pin": target} if isinstance(target, int) else {"name": target}

    def ping(self):
        return self.request("ping")

    def devices(self):
        return self.request("devices")["devices"]

    def press(self, target, ms=None, bounce=0, bounce_us=300):
        """Press a button (device name or pin). With ms: press, hold ms, release (a click)."""
        fields = self._target(target)
        fields.update(bounce=bounce, bounce_us=bounce_us)
        if ms is None:
            return self.request("press", **fields)
        return self.request("click", ms=ms, **fields)

    def release(self, target, bounce=0, bounce_us=300):
        return self.request("release", bounce=bounce, bounce_us=bounce_us, **self._target(target))

    def set_input(self, pin, level, bounce=0, bounce_us=300):
        return self.request("set", pin=pin, level=level, bounce=bounce, bounce_us=bounce_us)

    def level(self, target):
        return self.request("level", **self._target(target))["level"]

    def pwm(self, target):
        return self.request("pwm", **self._target(target))["pwm"]

    def snapshot(self):
        return self.request("snapshot")["pins"]

    def mem(self, largest=False):
        """Free and allocated GC heap of the firmware process, after a collection; with
        ``largest``, also the largest block it can allocate (see control.largest_free_block)."""
        data = self.request("mem", largest=largest) if largest else self.request("mem")
        keys = ("free", "alloc", "largest") if largest else ("free", "alloc")
        return {key: data[key] for key in keys}

    def modules(self):
        """The names in the firmware process's sys.modules (the simulation's own included)."""
        return self.request("modules")["modules"]


_default = None


def _client():
    global _default
    if _default is None:
        _default = Client()
    return _default


def press(target, ms=None, bounce=0):
    return _client().press(target, ms=ms, bounce=bounce)


def release(target, bounce=0):
    return _client().release(target, bounce=bounce)


def level(target):
    return _client().level(target)


def pwm(target):
    return _client().pwm(target)


def snapshot():
    return _client().snapshot()


def main(argv=None):
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m tools.vboard.client",
                                 description="Press the virtual board's buttons and read its pins.")
    ap.add_argument("--port", type=int, default=int(os.environ.get("VBOARD_CONTROL_PORT", "0")) or None,
                    help="control channel port (default: $VBOARD_CONTROL_PORT)")
    ap.add_argument("op", choices=("click", "press", "release", "level", "pwm", "snapshot", "devices"))
    ap.add_argument("target", nargs="?", help="device name (button) or pin number")
    ap.add_argument("--ms", type=int, default=100, help="click: how long the button is held")
    ap.add_argument("--bounce", type=int, default=0, help="contact bounces to synthesize")
    args = ap.parse_args(argv)
    if args.port is None:
        ap.error("give --port or set VBOARD_CONTROL_PORT")
    target = int(args.target) if args.target and args.target.isdigit() else args.target
    if args.op not in ("snapshot", "devices") and target is None:
        ap.error("%s needs a device name or pin" % args.op)
    c = Client(args.port)
    try:
        if args.op == "click":
            out = c.press(target, ms=args.ms, bounce=args.bounce)
        elif args.op == "press":
            out = c.press(target, bounce=args.bounce)
        elif args.op == "release":
            out = c.release(target, bounce=args.bounce)
        else:
            out = getattr(c, args.op)(*([target] if target is not None else []))
    except ControlError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
