"""Simulated ``neopixel`` module (addressable RGB LEDs). NEVER UPLOAD THIS TO A BOARD.

``write()`` publishes the colours on ``machine.sim`` (``sim.pixels(pin)``, snapshot, on_change).
"""

import machine


class NeoPixel:
    ORDER = (1, 0, 2, 3)

    def __init__(self, pin, n, bpp=3, timing=1):
        self.pin = pin
        self.n = n
        self.bpp = bpp
        self._pixels = [(0,) * bpp for _ in range(n)]

    def __len__(self):
        return self.n

    def __setitem__(self, index, value):
        self._pixels[index] = tuple(value)

    def __getitem__(self, index):
        return self._pixels[index]

    def fill(self, value):
        for i in range(self.n):
            self._pixels[i] = tuple(value)

    def write(self):
        machine.sim._set_pixels(self.pin._id, self._pixels)
