# The interpreter half of the virtual board's REPL: runs inside the firmware process.
#
# The MicroPython unix port has no raw REPL of its own, so the supervisor (CPython) speaks the
# raw-REPL protocol to mpremote and hands this loop whole code chunks on stdin, framed as
#
#   b"E <n>\n" + n bytes   raw-REPL exec: output, then "\x04", then the traceback, then "\x04"
#   b"S <n>\n" + n bytes   one friendly-REPL line, compiled in "single" mode (echoes values)
#
# Every chunk runs in the one globals dict that boot.py and main.py ran in (as pyexec does),
# with cwd = the flash root. Before reading each frame the loop prints IDLE_MARK, which the
# supervisor strips from the output and takes as "the interpreter waits for input" (the moment
# a board prints its prompt). Ctrl-C arrives as SIGINT, i.e. KeyboardInterrupt in the chunk.
import sys

IDLE_MARK = "\x00VBOARD:IDLE\x00"
# Printed by simboot once start-up is over, before main.py; the supervisor answers "main" or
# "skip" on a line of its own (simboot.main_wanted).
MAIN_MARK = "\x00VBOARD:MAIN\x00"


def format_exception(exc):
    """The traceback a board prints, without this tool's own frames (a board has no
    simboot.py or repldriver.py between its REPL and the code)."""
    import io

    buf = io.StringIO()
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc, buf)
    else:  # CPython
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=buf)
    lines = buf.getvalue().split("\n")
    keep = []
    skip_source = False
    for line in lines:
        if skip_source and line.startswith("    "):
            continue  # CPython prints the source line under each frame
        skip_source = False
        if line.startswith("  File ") and ("simboot.py" in line or "repldriver.py" in line):
            skip_source = True
            continue
        keep.append(line)
    return "\n".join(keep)


def _print_exception(exc):
    _write(format_exception(exc))


def _write(text):
    sys.stdout.write(text)
    flush = getattr(sys.stdout, "flush", None)
    if flush:
        flush()


def _read_exact(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _is_reset(exc):
    return "reset" in type(exc).__name__.lower()


def serve(g):
    """Run frames until stdin closes (the supervisor went away) or a reset is requested."""
    stdin = sys.stdin.buffer
    while True:
        _write(IDLE_MARK)
        try:
            header = stdin.readline()
            if not header:
                return
            parts = header.split()
            kind, n = parts[0], int(parts[1])
            code = _read_exact(stdin, n)
        except KeyboardInterrupt:
            continue  # a Ctrl-C that raced the end of the previous chunk: nothing to stop
        except EOFError:
            return
        if kind == b"E":
            _exec_raw(code, g)
        else:
            _exec_single(code, g)


def _exec_raw(code, g):
    error = None
    try:
        exec(compile(code, "<stdin>", "exec"), g)
    except BaseException as exc:  # noqa: B036 - the raw REPL reports every exception
        if _is_reset(exc):
            raise  # machine.reset(): simboot ends the process, the supervisor boots a new one
        if not isinstance(exc, SystemExit):
            error = exc
    _write("\x04")
    if error is not None:
        _print_exception(error)
    _write("\x04")


def _exec_single(code, g):
    try:
        exec(compile(code, "<stdin>", "single"), g)
    except BaseException as exc:  # noqa: B036
        if _is_reset(exc):
            raise
        if not isinstance(exc, SystemExit):
            _print_exception(exc)
