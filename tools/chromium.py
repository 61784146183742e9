"""Debian's Chromium driven by Playwright, as ``source tools/bootstrap.sh --browser`` installs
them (never a downloaded browser); the host's browser tests and the device suite use it.

    with chromium.browser() as browser:          # browser.pixel7: Playwright's Pixel 7 settings
        context = browser.new_context(**browser.pixel7)
"""

import contextlib
import os

PATH = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # tools/bootstrap.sh exports it
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def missing():
    """Why the browser cannot start here (a reason to skip with), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs Playwright (source tools/bootstrap.sh --browser)"
    if not os.path.exists(PATH):
        return "needs Chromium at %s (source tools/bootstrap.sh --browser)" % PATH
    return None


@contextlib.contextmanager
def browser():
    """A headless Chromium with a fresh temporary profile, ``.pixel7`` set.

    Playwright's sync API keeps an asyncio loop running in this thread while the browser is
    open, so a test module's later ``asyncio.run()`` fails until it is closed: hold it for a
    module at most, not a session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch(), not a persistent context: each run starts with a fresh temporary profile.
        launched = playwright.chromium.launch(executable_path=PATH, args=ARGS)
        launched.pixel7 = playwright.devices["Pixel 7"]
        try:
            yield launched
        finally:
            launched.close()
