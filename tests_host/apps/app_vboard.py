# Test-only launcher: the virtual board (tools/vboard/simboot.py) with a simulated radio.
#
#   app_vboard.py [--net SSID:PASSWORD[:RSSI]]... [--hang SSID] -- SIMBOOT ARGS...
#
# Puts the given networks in range (network.sim, tools/sim/network.py), then runs
# simboot unchanged with the flash directory as cwd: boot.py, main.py, the control channel.
# Runs on the MicroPython unix port and on CPython (through tools/sim/cpython_boot.py).
# Exit code 3 means the firmware called machine.reset() (a reboot the test then performs).
import sys

import network

ROOT = __file__.rsplit("/", 3)[0] if __file__.count("/") >= 3 else "../.."
SIMBOOT = ROOT + "/tools/vboard/simboot.py"

args = sys.argv[1:]
rest = []
i = 0
while i < len(args):
    a = args[i]
    if a == "--":
        rest = args[i + 1:]
        break
    if a == "--net" and i + 1 < len(args):
        parts = args[i + 1].split(":")
        password = parts[1] if len(parts) > 1 and parts[1] else None
        rssi = int(parts[2]) if len(parts) > 2 else -60
        network.sim.add_network(parts[0], password, rssi=rssi)
        i += 2
        continue
    if a == "--hang" and i + 1 < len(args):
        network.sim.add_network(args[i + 1], "x", hang=True)
        i += 2
        continue
    raise SystemExit("app_vboard: unknown argument " + a)

sys.argv[:] = [SIMBOOT] + rest  # MicroPython cannot rebind sys.argv
with open(SIMBOOT) as f:
    source = f.read()
# Define simboot's functions without running its last line, so mount_flash can be wrapped.
CALL = "main(sys.argv[1:])"
cut = source.rfind(CALL)
g = {"__name__": "__main__", "__file__": SIMBOOT}
exec(compile(source[:cut] if cut >= 0 else source, SIMBOOT, "exec"), g)
_mount = g["mount_flash"]


def mount_flash(size):
    # The unix port resolves imports with the host's stat(), not through the mounted VFS, so
    # "/lib" (the board's path) names the host's /lib; the relative "lib" reaches the flash.
    root = _mount(size)
    if "lib" not in sys.path:
        sys.path.append("lib")
    return root


g["mount_flash"] = mount_flash
if cut >= 0:
    g["main"](sys.argv[1:])
