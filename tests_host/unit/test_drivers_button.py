"""Button: debounce against bouncing contacts, click classification tables, IRQ mode without
allocation, BOOTSEL. Runs on CPython and on the MicroPython unix port, on a virtual clock."""

import machine
from drivers import Button, CommandError
from drivers.button import DEFAULTS, ButtonLogic
from fixtures.drivers import Events, chatter, drive_button, press_edges
from support import IS_MICROPYTHON, raises, run
from vclock import VirtualClock

PIN = 4

# The default timings of the button drivers ours is modelled on: Peter Hinch's Pushbutton/EButton
# (micropython-async v3/primitives), lws's button controller (lib/drivers/button) and OneButton.
CONFIGS = {
    "hinch": {"debounce_ms": 50, "long_ms": 1000, "double_ms": 400, "repeat_ms": 0},
    "lws": {"debounce_ms": 20, "long_ms": 300, "double_ms": 120, "repeat_ms": 100},
    "onebutton": {"debounce_ms": 50, "long_ms": 800, "double_ms": 400, "repeat_ms": 100},
    "ours": {"debounce_ms": 20, "long_ms": 800, "double_ms": 400, "repeat_ms": 0},
}


def make_button(port="esp32", mode="poll", **timings):
    machine.sim.configure(port=port)
    clock = VirtualClock()
    pin = machine.Pin(PIN, machine.Pin.IN, machine.Pin.PULL_UP)
    button = Button("button", pin, active_low=True, mode=mode, clock=clock, **timings)
    events = Events(clock)
    button.subscribe(events)
    return button, events, clock


def test_defaults_are_the_documented_ones():
    button, _, _ = make_button()
    assert DEFAULTS == {"debounce_ms": 20, "poll_ms": 10, "long_ms": 800, "double_ms": 400, "repeat_ms": 0}
    logic = button.logic
    assert (logic.debounce_ms, button.poll_ms, logic.long_ms, logic.double_ms, logic.repeat_ms) == (
        DEFAULTS["debounce_ms"], DEFAULTS["poll_ms"], DEFAULTS["long_ms"], DEFAULTS["double_ms"],
        DEFAULTS["repeat_ms"])


def test_chatter_generator_makes_the_pulses_the_tests_claim():
    edges = chatter(0, 25000, 0, 7)
    widths = [edges[i + 1][0] - edges[i][0] for i in range(len(edges) - 1)]
    assert len(edges) > 5
    assert min(widths) >= 200 and max(widths) <= 5000
    assert edges[-1][1] == 0 and edges[-1][0] <= 25000


def bounce_run(seed, mode, port, config):
    button, events, clock = make_button(port=port, mode=mode, **CONFIGS[config])
    if mode == "irq":
        # the hard IRQ handler counts edges; start() is what registers it (needs a loop)
        async def register():
            button.start()

        run(register())
        for task in button.tasks:
            task.cancel()
    drive_button(button, PIN, press_edges([(100, 250)], bounce_seed=seed), 1500, clock)
    button.deinit()
    return events


def test_bounce_profiles_give_one_press_and_one_release_when_polled():
    for seed in range(1, 41):
        for config in ("ours", "lws", "hinch"):
            events = bounce_run(seed, "poll", "esp32", config)
            assert events.count("press") == 1, (seed, config, events.log)
            assert events.count("release") == 1, (seed, config, events.log)
            assert events.names() == ["press", "release", "click"], (seed, config, events.names())


def test_bounce_profiles_give_one_press_and_one_release_with_hard_irqs():
    for seed in range(1, 41):
        events = bounce_run(seed, "irq", "rp2", "ours")
        assert events.names() == ["press", "release", "click"], (seed, events.log)


def test_irq_mode_restarts_the_debounce_window_on_edges_between_polls():
    # Chatter whose level reads "pressed" at every poll would pass a pure poll filter early;
    # with the IRQ edge count the press is confirmed only debounce_ms after the last edge.
    button, events, clock = make_button(port="rp2", mode="irq", poll_ms=10, debounce_ms=20)

    async def register():
        button.start()

    run(register())
    edges = []
    for k in range(6):  # low at every multiple of 10 ms, a 2 ms high blip in between
        edges.append(((100 + 10 * k) * 1000, 0))
        edges.append(((103 + 10 * k) * 1000, 1))
        edges.append(((105 + 10 * k) * 1000, 0))
    drive_button(button, PIN, edges, 400, clock)
    button.deinit()
    assert events.log[0][0] == "press"
    assert events.log[0][1] >= 155 + 20  # last edge at 155 ms, then the stable window


def gesture_events(config, gestures, until_ms, bounce_seed=None):
    button, events, clock = make_button(**CONFIGS[config])
    drive_button(button, PIN, press_edges(gestures, bounce_seed=bounce_seed), until_ms, clock)
    return events.names()


# (config, gestures [(press_at_ms, hold_ms)], expected events). Gesture times sit at least
# two polls away from every threshold, so the expected sequence does not depend on rounding.
TABLE = (
    ("ours", [(100, 120)], ["press", "release", "click"]),
    ("ours", [(100, 120), (400, 120)], ["press", "release", "press", "double_click", "release"]),
    ("ours", [(100, 120), (900, 120)], ["press", "release", "click", "press", "release", "click"]),
    ("ours", [(100, 1200)], ["press", "long_press", "release"]),
    ("ours", [(100, 700)], ["press", "release", "click"]),
    ("hinch", [(100, 700)], ["press", "release", "click"]),
    ("hinch", [(100, 1300)], ["press", "long_press", "release"]),
    ("hinch", [(100, 150), (450, 150)], ["press", "release", "press", "double_click", "release"]),
    ("lws", [(100, 450)], ["press", "long_press", "repeat", "release"]),
    ("lws", [(100, 750)], ["press", "long_press", "repeat", "repeat", "repeat", "repeat", "release"]),
    ("lws", [(100, 100), (380, 100)], ["press", "release", "click", "press", "release", "click"]),
    ("lws", [(100, 100), (280, 100)], ["press", "release", "press", "double_click", "release"]),
    ("onebutton", [(100, 1050)], ["press", "long_press", "repeat", "repeat", "release"]),
    ("onebutton", [(100, 300), (900, 300)], ["press", "release", "click", "press", "release", "click"]),
    ("onebutton", [(100, 300), (600, 300)], ["press", "release", "press", "double_click", "release"]),
)


def test_press_timing_table_per_anchor_configuration():
    for config, gestures, expected in TABLE:
        last = gestures[-1][0] + gestures[-1][1]
        got = gesture_events(config, gestures, last + 1000)
        assert got == expected, (config, gestures, got)


def test_press_timing_table_holds_with_bouncing_contacts():
    for seed in (3, 11, 29):
        for config, gestures, expected in TABLE:
            last = gestures[-1][0] + gestures[-1][1]
            got = gesture_events(config, gestures, last + 1000, bounce_seed=seed)
            assert got == expected, (seed, config, gestures, got)


def test_event_times_follow_the_configured_timings():
    button, events, clock = make_button(**CONFIGS["ours"])
    drive_button(button, PIN, press_edges([(100, 120)]), 1200, clock)
    times = dict((name, t) for name, t, _ in events.log)
    assert times["press"] - 100 == 20  # first poll at 100 sees it, stable 20 ms later
    assert times["release"] - times["press"] == 120
    assert times["click"] - times["release"] == 400  # the double-click grace
    release = [data for name, _, data in events.log if name == "release"][0]
    assert release["duration_ms"] == 120


def test_long_press_fires_while_held_and_repeat_counts_up():
    button, events, clock = make_button(debounce_ms=20, long_ms=300, double_ms=120, repeat_ms=100)
    drive_button(button, PIN, press_edges([(100, 2000)]), 1000, clock)  # still held at the end
    names = events.names()
    assert names[:2] == ["press", "long_press"] and "release" not in names
    counts = [data["count"] for name, _, data in events.log if name == "repeat"]
    assert counts == list(range(1, len(counts) + 1)) and len(counts) >= 5


def test_double_click_can_be_switched_off_for_instant_clicks():
    button, events, clock = make_button(double_ms=0)
    drive_button(button, PIN, press_edges([(100, 100), (300, 100)]), 800, clock)
    assert events.names() == ["press", "release", "click", "press", "release", "click"]
    clicks = [t for name, t, _ in events.log if name == "click"]
    releases = [t for name, t, _ in events.log if name == "release"]
    assert clicks == releases


def test_active_high_buttons_and_state():
    machine.sim.configure(port="esp32")
    clock = VirtualClock()
    pin = machine.Pin(5, machine.Pin.IN, machine.Pin.PULL_DOWN)
    button = Button("b", pin, active_low=False, clock=clock)
    states = []
    button.subscribe(lambda d, e, data: states.append(data["pressed"]) if e == "state" else None)
    assert button.state() == {"pressed": False, "presses": 0, "last_event": None}
    drive_button(button, 5, press_edges([(100, 200)], active_level=1), 400, clock)
    assert states == [True, False]
    assert button.state()["presses"] == 1 and button() is False


def test_buttons_accept_no_commands():
    button, _, _ = make_button()
    with raises(CommandError) as caught:
        button.command({"press": True})
    assert caught.value.field == "press"
    info = button.describe()
    assert info["kind"] == "button" and info["commands"] == []
    assert "double_click" in info["events"] and info["timings"]["long_ms"] == 800


def test_logic_alone_is_a_pure_state_machine():
    log = []
    logic = ButtonLogic(lambda e, d: log.append(e), debounce_ms=20, long_ms=500, double_ms=200)
    for t, level in ((0, False), (10, True), (20, True), (30, True), (60, False), (70, False), (90, False),
                     (300, False)):
        logic.update(level, t)
    assert log == ["press", "release", "click"]
    assert not logic.busy()


def test_irq_handler_does_not_allocate():
    import micropython

    button, events, clock = make_button(port="rp2", mode="irq")

    async def register():
        button.start()

    run(register())
    micropython.heap_lock()
    try:
        for _ in range(20):
            button.irq_handler(button.pin)
    finally:
        micropython.heap_unlock()
    assert button._edges == 20
    # and the edges the simulated port delivers run its handler under heap_lock too
    for level in (0, 1, 0, 1, 0):
        machine.sim.set_input(PIN, level)
    assert button._edges == 25
    button.deinit()


def test_heap_lock_check_catches_an_allocating_handler():
    # the negative control: without it the test above could not fail on MicroPython
    if not IS_MICROPYTHON:
        import micropython

        assert micropython.heap_lock() is not None  # the CPython shim only counts
        micropython.heap_unlock()
        return
    import micropython

    machine.sim.configure(port="rp2")
    pin = machine.Pin(6, machine.Pin.IN)
    seen = []
    pin.irq(lambda p: seen.append([p]), machine.Pin.IRQ_RISING, hard=True)
    with raises(MemoryError):
        machine.sim.set_input(6, 1)
    assert micropython.heap_locked() == 0 if hasattr(micropython, "heap_locked") else True


def test_irq_mode_is_refused_where_irqs_are_soft():
    button, _, _ = make_button(port="esp32", mode="irq")

    async def start():
        button.start()

    with raises(TypeError, "hard"):
        run(start())
    button.deinit()


def test_bootsel_is_polled_through_rp2():
    machine.sim.configure(port="rp2w")
    from drivers.button import BootselPin

    clock = VirtualClock()
    button = Button("bootsel", BootselPin(), active_low=False, clock=clock)
    events = Events(clock)
    button.subscribe(events)
    drive_button(button, "BOOTSEL", press_edges([(100, 150)], active_level=1), 800, clock)
    assert events.names() == ["press", "release", "click"]


def test_bootsel_is_rp2_only():
    import sys

    machine.sim.configure(port="esp32")
    sys.modules.pop("rp2", None)  # "import rp2" must fail afresh, as on an ESP32
    from drivers.button import BootselPin

    with raises(ValueError, "RP2"):
        BootselPin()
