# Runs first at every reset (before main.py). Kept tiny: anything that fails here runs before
# the app can report it, so all real work (config, Wi-Fi, server) is in main.py, and so is the
# garbage collector's policy (app.runner: collect often while starting, less while serving).
import gc

gc.collect()
