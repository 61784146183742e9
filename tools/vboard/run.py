"""The README's run command (tools/run calls this after bootstrapping):

  1. start the virtual board (tools/vboard) with its flash in build/run/flash, kept between
     runs, a simulated Wi-Fi network in range and build/run/device_config.json (generated:
     that network, the HTTP port, captive DNS off). It boots without main.py: the flash may
     hold the previous run's firmware, which the deploy's Ctrl-C would only interrupt (with
     a KeyboardInterrupt traceback in the log);
  2. deploy the firmware to it with tools/deploy.py over mpremote's socket:// transport (only
     changed files: the second run copies nothing), the modules in a ROMFS image when the board
     has a ROMFS partition (the target's, or --romfs-size; 0: none, every file on the flash);
  3. soft-reset it from the friendly REPL (Ctrl-D: boot.py, then main.py), as a person at a
     serial terminal would, and wait for the firmware's "ready:" line;
  4. print the page's URL and how to press the virtual button, then serve until Ctrl-C,
     showing the firmware's log. Enter on the keyboard clicks the button too.

A port given on the command line is used or refused with the reason, never replaced: the URL
and commands someone typed must keep working. A default port that is taken is replaced by a
free one, and the run says so.
"""

import argparse
import json
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import deploy  # noqa: E402

from tools.vboard.__main__ import parse_size  # noqa: E402
from tools.vboard.client import Client, ControlError  # noqa: E402
from tools.vboard.supervisor import Supervisor, free_port, port_is_free  # noqa: E402

WIFI = ("vboard-lan", "vboard-pass")


class Tee:
    """The firmware's log to stdout, and kept for the "ready:" wait."""

    def __init__(self):
        self.text = ""
        self.lock = threading.Lock()

    def write(self, b):
        sys.stdout.buffer.write(b)
        with self.lock:
            self.text = (self.text + b.decode("utf-8", "replace"))[-20000:]
        return len(b)

    def flush(self):
        sys.stdout.flush()


# The ports' options and defaults, in the order they are reported.
PORT_OPTIONS = (("--http-port", "the page", 8080), ("--repl-port", "the REPL", 7400),
                ("--control-port", "the control channel", 7401))


class PortError(Exception):
    """A port given on the command line that cannot be used; the message says what to do."""


def port_number(text):
    """argparse type: a TCP port, 0 for "any free one"."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("%r is not a TCP port (0 to 65535; 0: any free one)" % text)
    return port


def choose_ports(requested, notes):
    """The port for each option of PORT_OPTIONS: ``requested[option]`` exactly when given (0:
    a free one), else its default, or a free one when the default is taken (said in ``notes``).

    Raises PortError naming the port when a requested one is taken by a listener, or requested
    twice. Ports given on the command line are settled first, so no default lands on one."""
    chosen = {}
    order = sorted(PORT_OPTIONS, key=lambda entry: requested.get(entry[0]) is None)
    for option, what, default in order:
        port = requested.get(option)
        if port is None or port == 0:
            port = default if port is None else None
            if port is None or port in chosen.values() or not port_is_free(port):
                replacement = _free_port_besides(chosen.values())
                if port is not None:
                    notes.append("port %d (%s's default) is taken: %s is on %d instead; %s N chooses one"
                                 % (port, what, what, replacement, option))
                port = replacement
        else:
            for other, used in chosen.items():
                if used == port:
                    raise PortError("%s %d and %s %d: each needs its own port" % (other, port, option, port))
            if not port_is_free(port):
                raise PortError(
                    "%s %d: port %d on 127.0.0.1 is in use by another program (another ./tools/run "
                    "still running? `ss -ltnp 'sport = :%d'` shows which). Stop it, give %s another "
                    "port, or leave %s out for a free one." % (option, port, port, port, option, option))
        chosen[option] = port
    return chosen


def _free_port_besides(used):
    for _ in range(20):
        port = free_port()
        if port not in used:
            return port
    raise PortError("no free TCP port on 127.0.0.1")


def in_checkout(path):
    """``path`` as typed in a terminal in the checkout: relative to it when inside it."""
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(str(ROOT) + os.sep) else path


def tool_commands():
    """(python, mpremote): commands that work from a new terminal in the checkout, where the
    virtual environment's bin folder is not on PATH (tools/bootstrap.sh adds it only for the
    shell that sourced it)."""
    python = in_checkout(sys.executable)
    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    mpremote = in_checkout(mpremote) if os.path.exists(mpremote) else python + " -m mpremote"
    return python, mpremote


def soft_reset(repl_port):
    """Ctrl-C, Ctrl-B (friendly REPL), Ctrl-D: a soft reset that runs boot.py and main.py."""
    with socket.create_connection(("127.0.0.1", repl_port), timeout=20) as s:
        s.sendall(b"\r\x03\x02")
        seen = b""
        while b">>> " not in seen:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("the board closed the REPL")
            seen += chunk
        s.sendall(b"\x04")
        time.sleep(0.2)  # let the reset start before this client goes away


def wait_ready(tee, since, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with tee.lock:
            text = tee.text[since:] if since <= len(tee.text) else tee.text
        m = re.search(r"^ready: .*$", text, re.M)
        if m:
            return m.group(0)
        time.sleep(0.1)
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tools/run", description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="virtual", help="board file to emulate (default: %(default)s)")
    for option, what, default in PORT_OPTIONS:
        ap.add_argument(option, type=port_number, default=None,
                        help="%s's port on 127.0.0.1 (default %d, or a free one when it is taken; a port "
                        "given here is used or refused, never replaced; 0: a free one)" % (what, default))
    ap.add_argument("--flash", default=str(ROOT / "build" / "run" / "flash"), help="the board's filesystem")
    ap.add_argument("--romfs-size", type=parse_size, default=None,
                    help="the board's ROMFS partition, e.g. 128k (default: the target's; 0: none, so the "
                    "deploy puts every file on the flash)")
    ap.add_argument("--bits", type=int, choices=(32, 64), default=32,
                    help="the unix port's 32-bit build with the board's own heap (default: what a board has), "
                    "or 64 (lenient: the heap scaled by 2)")
    ap.add_argument("--exit-when-ready", action="store_true", help="stop once the page is served (for tests)")
    args = ap.parse_args(argv)

    notes = []
    try:
        ports = choose_ports({option: getattr(args, option[2:].replace("-", "_")) for option, _, _ in PORT_OPTIONS},
                             notes)
    except PortError as exc:
        print("[run] %s" % exc, file=sys.stderr)
        return 2
    for note in notes:
        print("[run] %s" % note, flush=True)
    http_port = ports["--http-port"]
    # On a simulated board HTTP_PORT and DNS_PORT in the environment override the config
    # (docs/configuration.md), so one left in the caller's shell would move the page away
    # from the URL printed below: the config written here decides.
    os.environ.pop("HTTP_PORT", None)
    os.environ.pop("DNS_PORT", None)
    config = Path(args.flash).parent / "device_config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({
        "http_port": http_port, "dns_port": 0, "hostname": "microhttp",
        "wifi": {"networks": [{"ssid": WIFI[0], "password": WIFI[1]}]},
    }, indent=1))

    tee = Tee()
    sup = Supervisor(args.flash, board=args.board, log=tee, wifi=["%s=%s" % WIFI], romfs_size=args.romfs_size,
                     repl_port=ports["--repl-port"], control_port=ports["--control-port"],
                     bits=args.bits).start(run_main=False)  # why not main.py: see step 1 above
    print("[run] virtual board %s (%s, %d KB heap%s, %s), REPL %s"
          % (sup.board_id, sup.target, sup.heap // 1024, "" if sup.bits == 32 else ", 64-bit: lenient",
             "%d KB ROMFS partition" % (sup.romfs_size // 1024) if sup.romfs_size else "no ROMFS partition", sup.url),
          flush=True)
    try:
        print("[run] deploying with tools/deploy.py --port %s --board %s --config %s" % (sup.url, args.board, config), flush=True)
        try:
            deploy.deploy(sup.url, args.board, str(config), follow=0, reset=False)
        except deploy.DeployError as exc:
            print("[run] deploy failed: %s" % exc, file=sys.stderr)
            return 1
        print("[run] soft reset (Ctrl-D in the friendly REPL): boot.py, then main.py", flush=True)
        mark = len(tee.text)
        soft_reset(sup.repl_port)
        ready = wait_ready(tee, mark, 60)
        if ready is None:
            print("[run] the firmware never printed its ready line; see the log above", file=sys.stderr)
            return 1
        url = "http://127.0.0.1:%d/" % http_port
        python, mpremote = tool_commands()
        print("\n[run] the control page: %s" % url)
        print("[run] press the virtual button: Enter here, or from another terminal in %s" % ROOT)
        print("        %s -m tools.vboard.client --port %d click button" % (python, sup.control_port))
        print("        %s -m tools.vboard.client --port %d press button    (hold; then: release button)"
              % (python, sup.control_port))
        print("[run] the board's REPL, from another terminal in %s (Ctrl-C there stops main.py)" % ROOT)
        print("        %s connect %s repl" % (mpremote, sup.url))
        print("[run] Ctrl-C here to stop\n", flush=True)
        if args.exit_when_ready:
            return 0
        buttons = _button_names(sup)
        while True:
            line = sys.stdin.readline() if sys.stdin.isatty() else ""
            if line == "":
                time.sleep(3600)  # no keyboard (or it closed): keep serving
            elif buttons:
                try:
                    Client(sup.control_port).press(buttons[0], ms=100)
                    print("[run] clicked %r" % buttons[0], flush=True)
                except ControlError as exc:
                    print("[run] %s" % exc, flush=True)
    except KeyboardInterrupt:
        print("\n[run] stopped", flush=True)
        return 0
    finally:
        sup.stop()


def _button_names(sup):
    try:
        devices = Client(sup.control_port).devices()
    except ControlError:
        return []
    return [name for name, d in devices.items() if d.get("kind") == "button"]


if __name__ == "__main__":
    sys.exit(main())
