"""app.firmware.log: every line printed, the last LOG_LINES kept for the page, each cut at
LOG_WIDTH, and passed to the listeners (the pages' event stream). Both runtimes."""

from app import firmware


def test_the_log_keeps_the_last_lines_cut_to_width_and_tells_its_listeners():
    kept = list(firmware.recent_lines)
    heard = []
    firmware.log_listeners.append(heard.append)
    try:
        for n in range(firmware.LOG_LINES + 5):
            firmware.log("line %d" % n)
        assert firmware.recent_lines == ["line %d" % n for n in range(5, firmware.LOG_LINES + 5)]
        assert len(heard) == firmware.LOG_LINES + 5
        firmware.log("x" * (firmware.LOG_WIDTH + 40))
        assert len(firmware.recent_lines[-1]) == firmware.LOG_WIDTH and firmware.recent_lines[-1].endswith("...")
        assert heard[-1] == firmware.recent_lines[-1]
    finally:
        del firmware.log_listeners[:]
        firmware.recent_lines[:] = kept
