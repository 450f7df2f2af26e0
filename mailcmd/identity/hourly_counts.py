"""Counts of events per key over the last hour, in memory, with a bounded number of keys."""

import threading
import time
from collections import OrderedDict

WINDOW_SECONDS = 3600.0


class HourlyCounts:
    """How often each key was counted in its current hour-long window; thread-safe.

    At most `max_keys` keys are remembered; beyond that the oldest windows are
    forgotten, so that a flood of distinct keys costs bounded memory.
    """

    def __init__(self, limit: int, max_keys: int = 100_000) -> None:
        """Allow `limit` events per key and window."""
        self._limit = limit
        self._max_keys = max_keys
        self._lock = threading.Lock()
        # key -> (window start, events in it), oldest window first
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()

    @property
    def limit(self) -> int:
        """Events allowed per key and window."""
        return self._limit

    def allow(self, *keys: str) -> bool:
        """Count one event for each of `keys`; False if any of them is over its limit."""
        now = time.monotonic()
        allowed = True
        with self._lock:
            for key in keys:
                start, events = self._windows.get(key, (now, 0))
                if start <= now - WINDOW_SECONDS:
                    start, events = now, 0
                    self._windows.pop(key, None)
                self._windows[key] = (start, events + 1)
                allowed = allowed and events < self._limit
            while len(self._windows) > self._max_keys:
                self._windows.popitem(last=False)
        return allowed
