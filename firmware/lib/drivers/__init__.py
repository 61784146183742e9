"""Peripheral drivers behind one Device abstraction: Led, Button, PwmOut; boards as data.

Every device has ``name``, ``kind`` ("led" | "button" | "pwm"), ``label``, ``state()`` (a
JSON-ready dict), ``describe()`` (name, kind, label, state, commands with their field specs,
events), ``command(dict)`` (validated first: CommandError(field, message) changes nothing;
returns the new state), ``subscribe(callback(device, event, data))`` (returns an unsubscribe
function), ``start()`` (asyncio tasks) and ``deinit()`` (cancels every task, frees the pin).
Fields may be combined in one command unless listed as exclusive.

LED commands (state: on, brightness, pattern, period_ms, level, dimmable)::

    {"on": true|false}             off also stops a pattern
    {"toggle": true}               not with "on"
    {"brightness": 0..1}           perceived brightness (CIE curve, 16-bit, on PWM/pixel LEDs)
    {"pattern": "off"|"blink"|"pulse"|"heartbeat", "period_ms": 100..60000}
                                   a pattern other than "off" switches the LED on
    {"transition_ms": 0..10000}    crossfade; default 300 when the pattern changes, else 0

PWM commands (state: freq, duty, duty_u16, duty_ns, fading, target, sequence)::

    {"duty": 0..1} | {"duty_u16": 0..65535} | {"duty_ns": 0..period}   (one of these)
    {"freq": Hz}                   range per port; checked against timers/slices first
    {"fade": {"to": 0..1, "ms": 0..600000, "easing": "linear"|"ease_in"|"ease_out"|
              "ease_in_out"|"sine"}}
    {"sequence": {"steps": [fade, ... up to 16], "repeat": -1 (forever) | 0.. extra passes}}
    {"stop": true}                 stop a fade/sequence at the current duty

Buttons accept no commands; they emit press, release, click, double_click, long_press, repeat
and "state" (pressed, presses, last_event).

Boards: ``drivers.board.load_board(path_or_dict, machine)`` -> Board (devices, device_list,
loopbacks, role(), start(), deinit()); ``drivers.board.unload()`` frees the boot-only loader.
"""

from drivers.device import CommandError, Device

__all__ = ["CommandError", "Device", "Led", "Button", "PwmOut"]


def __getattr__(name):
    # Lazy: a board without PWM never loads pwm.py (RAM on a 100 KB heap matters).
    if name == "Led":
        from drivers.led import Led

        return Led
    if name == "Button":
        from drivers.button import Button

        return Button
    if name == "PwmOut":
        from drivers.pwm import PwmOut

        return PwmOut
    # MicroPython resolves "from drivers import curves" through this hook too: import it.
    # (dir() probes every name through here, so only the package's own modules are tried.)
    if name not in _SUBMODULES:
        raise AttributeError(name)
    package = __import__("drivers." + name)
    return package.__dict__[name]


_SUBMODULES = ("board", "button", "chips", "curves", "device", "led", "pwm")
