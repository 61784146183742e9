"""Start the firmware app: config -> board -> drivers -> HTTP server -> Wi-Fi.

How it is started: a board runs boot.py then this file from its filesystem root. The virtual
board (tools/vboard) and the tests do the same on the MicroPython unix port with the flash
directory as the current directory, with simulated machine and network modules
(tools/sim) in place of the port's.

How it is configured: ``config.json`` in the flash root (see docs/configuration.md), e.g.

    {"wifi": {"networks": [{"ssid": "home", "password": "secret"}]},
     "hostname": "porch", "auth": {"password": "letmein"}, "board": "esp32_devkitc",
     "http_port": 80}

Every key is optional; a missing or corrupt file boots with defaults and says so on the page.
``board`` picks ``boards/<id>.json`` ("" detects it from the port). On a simulated board
(unix port or CPython) the server listens on 127.0.0.1 only; set ``http_port`` (and
``dns_port``, 0 to disable the captive DNS) to unprivileged ports there. The simulated radio
is ``network.sim`` (tools/sim/network.py): add networks before this file runs, or
the device opens its setup access point as a real one would with no network in range.

Output lines worth waiting for: ``http: listening on http://HOST:PORT/`` and
``ready: wifi connected|ap``. Saving a network on the setup page ends ``main()`` and calls
``machine.reset()``.
"""

import asyncio

from app import runner

if asyncio.run(runner.main()) == "reboot":
    import machine

    machine.reset()
