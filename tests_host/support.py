"""Helpers for test modules shared by CPython (pytest) and the MicroPython unix port.

A *shared* test module (a ``test_*.py`` without ``CPYTHON_ONLY = True``, in ``tests_host/unit/``)
runs on both runtimes, so it may use only what both have: plain ``test_*`` functions taking no
arguments, ``assert``, and the helpers here. pytest fixtures, parametrize and subprocesses
belong in CPython-only modules.
"""

import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"
RUNTIME = "micropython" if IS_MICROPYTHON else "cpython"


class Skip(Exception):
    """Raised to skip a test on MicroPython (pytest's own skip is used on CPython)."""


def skip(reason):
    if not IS_MICROPYTHON:
        import pytest

        pytest.skip(reason)
    raise Skip(reason)


class raises:
    """``with raises(ValueError, "substring"):`` -- works on both runtimes.

    The caught exception is kept in ``.value`` for further checks.
    """

    def __init__(self, exc_type, match=None):
        self.exc_type = exc_type
        self.match = match
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError("expected %s, nothing was raised" % self.exc_type.__name__)
        if not issubclass(exc_type, self.exc_type):
            return False  # a different exception propagates unchanged
        if self.match is not None and self.match not in str(exc):
            raise AssertionError("%s raised, but %r is not in %r" % (exc_type.__name__, self.match, str(exc)))
        self.value = exc
        return True


def temporary_json_path(prefix):
    """A fresh path for a JSON file under /tmp (both runtimes have os.urandom; neither shares
    tempfile)."""
    import os

    return "/tmp/%s-%s.json" % (prefix, "".join("%02x" % b for b in os.urandom(6)))


def remove_atomically_written(path):
    """Remove ``path`` and the temporary file an atomic write leaves beside it, if any."""
    import os

    for p in (path, path + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass


def run(coro):
    """Run a coroutine to completion on a fresh event loop (both runtimes)."""
    import asyncio

    return asyncio.run(coro)


class FakeRequest:
    """A request as an extension reads one, without a server: ``method``, ``path`` and
    ``headers`` (microhttp.h1.RequestHeaders, as the parser makes them)."""

    def __init__(self, path="/", method="GET", headers=None):
        from microhttp.h1 import RequestHeaders

        self.method = method
        self.path = path
        headers = headers or {}
        self.headers = RequestHeaders(["".join("%s: %s\r\n" % (name.lower(), headers[name]) for name in headers)])
