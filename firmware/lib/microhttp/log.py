# microhttp.log: a bounded logger. Lines are printed and the last few kept in a fixed ring, so
# logging never grows the heap without limit, however often a failing client makes it fire.
from microhttp import compat

DEBUG = 10
INFO = 20
WARNING = 30
ERROR = 40
_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR"}


class Logger:
    """Levelled logger; ``recent()`` returns the last ``size`` lines (each at most ``width``)."""

    def __init__(self, level=INFO, size=16, width=160, stream=None):
        self.level = level
        self.width = width
        self.stream = stream  # None: print(); else an object with write()
        self._ring = [None] * size  # type: list
        self._next = 0  # the slot the next line goes to (the oldest once the ring is full)

    def log(self, level, msg, *args):
        if level < self.level:
            return
        try:
            if args:
                msg = msg % args
        except Exception:
            msg = "%s %r" % (msg, args)
        line = "%s %s" % (_NAMES.get(level, level), msg)
        if len(line) > self.width:
            line = line[: self.width - 3] + "..."
        self._ring[self._next] = line
        self._next = (self._next + 1) % len(self._ring)
        if self.stream is None:
            print(line)
        else:
            self.stream.write(line + "\n")

    def debug(self, msg, *args):
        self.log(DEBUG, msg, *args)

    def info(self, msg, *args):
        self.log(INFO, msg, *args)

    def warning(self, msg, *args):
        self.log(WARNING, msg, *args)

    def error(self, msg, *args):
        self.log(ERROR, msg, *args)

    def exception(self, msg, exc):
        """Log ``msg`` and ``exc`` at ERROR; the traceback is printed (never stored)."""
        self.log(ERROR, "%s: %r", msg, exc)
        if self.level <= ERROR and self.stream is None:
            compat.print_exception(exc)

    def recent(self):
        """The stored lines, oldest first."""
        size = len(self._ring)
        lines = (self._ring[(self._next + age) % size] for age in range(size))
        return [line for line in lines if line is not None]


logger = Logger()
