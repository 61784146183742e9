# Integer curves shared by the LED and PWM drivers. Levels and phases are 16-bit integers
# (0..65535), like lws's LED sequencer: no floats in the per-frame path, and the 16-bit output
# keeps the low end of a perceptual curve (8-bit gamma tables lose their first steps).
import math

FULL = 65535
ONE = 65536  # easing inputs and outputs run 0..ONE so that ONE maps exactly onto the target


def _table(fn):
    # 65 points (64 segments) are interpolated linearly, as lws does for its CIE table.
    return tuple(int(fn(i / 64) * FULL + 0.5) for i in range(65))


def _cie(lightness):
    # CIE 1976 L* -> relative luminance: the duty that makes a lightness step look even.
    L = lightness * 100
    if L <= 8:
        return L / 903.3
    return ((L + 16) / 116) ** 3


CIE = _table(_cie)
LINEAR = _table(lambda x: x)
# One period of a raised cosine, 0 -> 1 -> 0: the "pulse"/breathing shape and sine easing.
RAISED_COSINE = _table(lambda x: (1 - math.cos(2 * math.pi * x)) / 2)
CURVES = {"cie": CIE, "linear": LINEAR}


def lookup(table, x):
    """Interpolate ``table`` at ``x`` in 0..65535; 0 and 65535 map exactly onto the ends."""
    if x <= 0:
        return table[0]
    if x >= FULL:
        return table[64]
    i = x >> 10
    a = table[i]
    return a + (((table[i + 1] - a) * (x & 1023)) >> 10)


# --- easing: progress 0..ONE -> 0..ONE, exact at both ends ------------------------------------


def _linear(p):
    return p


def _ease_in(p):
    return (p * p) >> 16


def _ease_out(p):
    q = ONE - p
    return ONE - ((q * q) >> 16)


def _ease_in_out(p):
    # smoothstep 3p^2 - 2p^3: zero slope at both ends
    return (((p * p) >> 16) * (3 * ONE - 2 * p)) >> 16


def _sine(p):
    # first half of the raised cosine is a sine ease-in-out
    if p >= ONE:
        return ONE
    return (lookup(RAISED_COSINE, p >> 1) * ONE) // FULL


EASINGS = {
    "linear": _linear,
    "ease_in": _ease_in,
    "ease_out": _ease_out,
    "ease_in_out": _ease_in_out,
    "sine": _sine,
}
EASING_NAMES = ("linear", "ease_in", "ease_out", "ease_in_out", "sine")


def progress(elapsed, duration):
    """Fraction of a transition done, 0..ONE."""
    if duration <= 0 or elapsed >= duration:
        return ONE
    if elapsed <= 0:
        return 0
    return (elapsed * ONE) // duration


def mix(a, b, p):
    """a -> b by p in 0..ONE; p == ONE gives exactly b."""
    return a + (((b - a) * p) >> 16)
