"""The control page in a real browser against the board's address, after the deploy: every
load shows the devices and goes live (page_check.py). Report keys: page_loads_s and
page_non_200."""

from page_check import load_page


def test_the_page_loads_and_goes_live_every_time(firmware, chromium):
    load_page(firmware, chromium, "page_loads_s")
