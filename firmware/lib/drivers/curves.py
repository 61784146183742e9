# Integer curves shared by the LED and PWM drivers. Levels and phases are 16-bit integers
# (0..65535), like lws's LED sequencer: no floats in the per-frame path, and the 16-bit output
# keeps the low end of a perceptual curve (8-bit gamma tables lose their first steps).
FULL = 65535
ONE = 65536  # easing inputs and outputs run 0..ONE so that ONE maps exactly onto the target

# Curves as tables of 65 points (64 segments, interpolated linearly, as lws does for its CIE
# table), each point a 16-bit big-endian level. Constants, not computed at import: in a ROMFS
# image or frozen firmware their bytes stay in flash. The LED driver's tests derive them from
# their formulas.
# CIE 1976 L* -> relative luminance: the duty that makes a lightness step look even.
CIE = (
    b"\x00\x00\x00\x71\x00\xe3\x01\x54\x01\xc5\x02\x37\x02\xae\x03\x35\x03\xcc\x04\x75\x05\x30\x05\xff\x06\xe2"
    b"\x07\xda\x08\xe9\x0a\x0f\x0b\x4e\x0c\xa5\x0e\x17\x0f\xa4\x11\x4d\x13\x13\x14\xf7\x16\xfa\x19\x1d\x1b\x61"
    b"\x1d\xc7\x20\x50\x22\xfc\x25\xcd\x28\xc4\x2b\xe2\x2f\x27\x32\x94\x36\x2c\x39\xee\x3d\xdb\x41\xf5\x46\x3c"
    b"\x4a\xb1\x4f\x56\x54\x2b\x59\x31\x5e\x6a\x63\xd6\x69\x75\x6f\x4a\x75\x55\x7b\x97\x82\x11\x88\xc4\x8f\xb1"
    b"\x96\xd8\x9e\x3b\xa5\xdc\xad\xb9\xb5\xd6\xbe\x32\xc6\xcf\xcf\xae\xd8\xcf\xe2\x33\xeb\xdc\xf5\xca\xff\xff"
)
LINEAR = (
    b"\x00\x00\x04\x00\x08\x00\x0c\x00\x10\x00\x14\x00\x18\x00\x1c\x00\x20\x00\x24\x00\x28\x00\x2c\x00\x30\x00"
    b"\x34\x00\x38\x00\x3c\x00\x40\x00\x44\x00\x48\x00\x4c\x00\x50\x00\x54\x00\x58\x00\x5c\x00\x60\x00\x64\x00"
    b"\x68\x00\x6c\x00\x70\x00\x74\x00\x78\x00\x7c\x00\x80\x00\x83\xff\x87\xff\x8b\xff\x8f\xff\x93\xff\x97\xff"
    b"\x9b\xff\x9f\xff\xa3\xff\xa7\xff\xab\xff\xaf\xff\xb3\xff\xb7\xff\xbb\xff\xbf\xff\xc3\xff\xc7\xff\xcb\xff"
    b"\xcf\xff\xd3\xff\xd7\xff\xdb\xff\xdf\xff\xe3\xff\xe7\xff\xeb\xff\xef\xff\xf3\xff\xf7\xff\xfb\xff\xff\xff"
)
# One period of a raised cosine, 0 -> 1 -> 0: the "pulse"/breathing shape and sine easing.
RAISED_COSINE = (
    b"\x00\x00\x00\x9e\x02\x76\x05\x83\x09\xbe\x0f\x1d\x15\x92\x1d\x0e\x25\x7d\x2e\xcc\x38\xe3\x43\xa9\x4f\x04"
    b"\x5a\xd8\x67\x07\x73\x74\x7f\xff\x8c\x8b\x98\xf8\xa5\x27\xb0\xfb\xbc\x56\xc7\x1c\xd1\x33\xda\x82\xe2\xf1"
    b"\xea\x6d\xf0\xe2\xf6\x41\xfa\x7c\xfd\x89\xff\x61\xff\xff\xff\x61\xfd\x89\xfa\x7c\xf6\x41\xf0\xe2\xea\x6d"
    b"\xe2\xf1\xda\x82\xd1\x33\xc7\x1c\xbc\x56\xb0\xfb\xa5\x27\x98\xf8\x8c\x8b\x80\x00\x73\x74\x67\x07\x5a\xd8"
    b"\x4f\x04\x43\xa9\x38\xe3\x2e\xcc\x25\x7d\x1d\x0e\x15\x92\x0f\x1d\x09\xbe\x05\x83\x02\x76\x00\x9e\x00\x00"
)
CURVES = {"cie": CIE, "linear": LINEAR}


def lookup(table, x):
    """Interpolate ``table`` at ``x`` in 0..65535; 0 and 65535 map exactly onto the ends."""
    if x <= 0:
        return table[0] << 8 | table[1]
    if x >= FULL:
        return table[128] << 8 | table[129]
    i = (x >> 10) << 1
    a = table[i] << 8 | table[i + 1]
    return a + ((((table[i + 2] << 8 | table[i + 3]) - a) * (x & 1023)) >> 10)


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
