"""The firmware's life from start-up to reboot.

``await main()`` starts the firmware (app.startup), runs until a reboot is requested (the
setup page saved a network) and then returns "reboot"; main.py resets the board.

What only the start needs leaves RAM once the firmware serves: app.startup, the config loader
(app.config, imported again when a setting is saved) and the board loader (drivers.board,
which startup releases itself). ``app.firmware.release()`` forgets such a module; the garbage
collector takes its code and data back once nothing refers to them.
"""

import gc

from app.firmware import log, release

# The garbage collector runs when a block cannot be allocated, or once this many bytes were
# allocated since the last collection. Between two collections new objects go ever higher in
# the heap, above the garbage; what lives on then sits between the holes the garbage leaves.
# Start-up allocates what lives for the whole run, so it collects often: what it keeps is
# packed at the bottom of the heap, and the free heap above stays in one piece for the user's
# code and for requests. Serving collects less often, trading that for speed.
STARTUP_COLLECT_BYTES = 1024
SERVING_COLLECT_BYTES = 4096


async def main(config_path=None, net=None, hw=None):
    """Arguments as app.startup.start()'s."""
    gc.threshold(STARTUP_COLLECT_BYTES)
    from app import startup

    firmware = await startup.start(config_path, net, hw)
    del startup
    release("app.startup")
    release("app.config")
    gc.collect()
    gc.threshold(SERVING_COLLECT_BYTES)
    await firmware.reboot.wait()
    log("rebooting")
    await firmware.stop()
    return "reboot"
