"""The control page's check in a real browser, against the board's address: Chromium (Debian's,
driven by Playwright; the ``chromium`` fixture in conftest.py) emulating a Pixel 7 loads the
page, then reloads it, LOADS times in all. Each load must show the board's devices and go live
(its event stream open, #conn.live) within LIVE_S. test_page.py runs it after the deploy,
test_soak.py after the soak.

A load is four requests on a few parallel connections (the page, /api/board, /api/events,
/api/board again once the stream is open), and each reload leaves the last page's connections
to be closed: with a board's short heap, that is where a server that admits everything at once
would answer 503. Load times and any non-200 answer (the page retries its event stream) go to
the device report."""

import time

LOADS = 5
LIVE_S = 15  # seconds for one load to go live: the server may make a request wait for room


def load_page(firmware, chromium, key):
    """Load the page, then reload it, LOADS times in all; the load times (and the non-200
    answers) go to the report under ``key``. Fails on a 5xx for the page or /api/board."""
    loads, answers = [], []
    context = chromium.new_context(**chromium.pixel7)
    context.set_default_timeout(LIVE_S * 1000)
    page = context.new_page()
    page.on("response", lambda r: answers.append((r.status, r.url[len(firmware.http):])))
    try:
        for n in range(LOADS):
            t0 = time.monotonic()
            if n == 0:
                page.goto(firmware.http + "/")
            else:
                page.reload()
            page.wait_for_selector("[data-device]")
            page.wait_for_selector("#conn.live")
            loads.append(round(time.monotonic() - t0, 2))
    finally:
        context.close()
        firmware.report[key] = loads
        firmware.report[key.replace("_loads_s", "_non_200")] = [a for a in answers if a[0] != 200]
    assert len(loads) == LOADS
    # The page itself must never be refused: a 503 there is a blank screen on the phone.
    assert not [a for a in answers if a[0] >= 500 and a[1] in ("/", "/api/board")], answers
