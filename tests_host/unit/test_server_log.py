"""microhttp.log: levels, formatting and the bounded ring (shared: both runtimes)."""

from microhttp.log import DEBUG, ERROR, INFO, WARNING, Logger


class Sink:
    def __init__(self):
        self.lines = []

    def write(self, s):
        self.lines.append(s)


def test_levels_filter_and_lines_are_formatted():
    sink = Sink()
    log = Logger(level=WARNING, stream=sink)
    log.debug("d %d", 1)
    log.info("i")
    log.warning("w %s=%d", "x", 2)
    log.error("e")
    assert sink.lines == ["WARNING w x=2\n", "ERROR e\n"]
    log.level = DEBUG
    log.debug("now %s", "shown")
    assert sink.lines[-1] == "DEBUG now shown\n"
    assert INFO < WARNING < ERROR


def test_the_ring_keeps_only_the_last_lines_and_each_line_is_truncated():
    sink = Sink()
    log = Logger(size=4, width=20, stream=sink)
    for i in range(100):
        log.info("line %d", i)
    assert log.recent() == ["INFO line 96", "INFO line 97", "INFO line 98", "INFO line 99"]
    assert len(log._ring) == 4  # never grows
    log.error("x" * 1000)
    assert log.recent()[-1] == "ERROR " + "x" * 11 + "..." and len(log.recent()[-1]) == 20
    assert len(sink.lines) == 101


def test_bad_format_arguments_do_not_raise():
    sink = Sink()
    log = Logger(stream=sink)
    log.info("%d apples", "not a number")
    assert sink.lines[0].startswith("INFO %d apples")


def test_exception_logs_the_message_and_the_exception():
    sink = Sink()
    log = Logger(stream=sink)
    try:
        raise ValueError("bad thing")
    except ValueError as e:
        log.exception("handler", e)
    assert sink.lines == ["ERROR handler: ValueError('bad thing')\n"] or sink.lines == [
        "ERROR handler: ValueError('bad thing',)\n"]  # MicroPython's repr keeps the comma
