# Runs first at every reset (before main.py). Kept tiny: anything that fails here runs before
# the app can report it, so all real work (config, Wi-Fi, server) is in main.py.
import gc

# Collect early and often: Wi-Fi buffers and the HTTP server share ~100-200 KB of heap, and
# a collection at a quarter of the free heap keeps fragmentation down (docs: constrained.rst).
gc.collect()
if hasattr(gc, "threshold") and gc.mem_free() > 0:
    gc.threshold(gc.mem_free() // 4 + gc.mem_alloc())
