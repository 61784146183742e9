"""Command coalescing: a device applies the latest command, never a backlog of stale ones.

A slider dragged on a phone sends a burst of commands for one device. ``Coalescer`` keeps one
slot per device: a command arriving while an earlier one for the same device still waits
replaces it (the earlier submitter is told it was superseded), and commands for one device
are applied at most once per ``min_interval_ms``. Memory is one slot per device, whatever the
request rate; different devices never wait for each other.
"""

import asyncio
import time

SUPERSEDED = "superseded"


class _Pending:
    def __init__(self, cmd):
        self.cmd = cmd
        self.event = asyncio.Event()
        self.outcome = None  # (result, exception) once applied, or SUPERSEDED


class _Slot:
    def __init__(self):
        self.pending = None  # the one command waiting for this device
        self.last = None  # ticks_ms of the last apply
        self.task = None


class Coalescer:
    def __init__(self, apply, min_interval_ms=20):
        self.apply = apply  # apply(key, cmd) -> result; may raise (reported to the submitter)
        self.min_interval_ms = min_interval_ms
        self.slots = {}
        self.applied = 0
        self.superseded = 0

    async def submit(self, key, cmd):
        """Apply ``cmd`` to ``key`` soon; returns the result, or SUPERSEDED if a newer one won."""
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = _Slot()
        if slot.pending is None and self._due(slot) <= 0:
            # Idle device: apply now, on this task, with no extra scheduling.
            slot.last = time.ticks_ms()
            self.applied += 1
            return self.apply(key, cmd)
        old = slot.pending
        if old is not None:
            old.outcome = SUPERSEDED
            old.event.set()
            self.superseded += 1
        mine = slot.pending = _Pending(cmd)
        if slot.task is None:
            slot.task = asyncio.create_task(self._drain(slot, key))
        await mine.event.wait()
        if mine.outcome == SUPERSEDED:
            return SUPERSEDED
        result, exc = mine.outcome  # type: ignore[misc]
        if exc is not None:
            raise exc
        return result

    def _due(self, slot):
        if slot.last is None:
            return 0
        return self.min_interval_ms - time.ticks_diff(time.ticks_ms(), slot.last)

    async def _drain(self, slot, key):
        try:
            while slot.pending is not None:
                wait = self._due(slot)
                if wait > 0:
                    await asyncio.sleep(wait / 1000)  # newer commands replace slot.pending meanwhile
                mine = slot.pending
                slot.pending = None
                slot.last = time.ticks_ms()
                try:
                    mine.outcome = (self.apply(key, mine.cmd), None)
                except Exception as exc:
                    mine.outcome = (None, exc)
                self.applied += 1
                mine.event.set()
        finally:
            slot.task = None
