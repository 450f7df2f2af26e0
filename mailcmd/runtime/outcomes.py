"""What became of queued messages, published as it happens, for whoever waits on it.

The worker publishes each message's final outcome, the deliverer each outbox row's
status after an attempt. Anyone on the same event loop may wait for the outcome of
one id: an outcome published before the wait began is still found while it is among
the most recent `REMEMBERED_OUTCOMES`, so that a waiter that comes late (the id is
known only once the message is stored) never waits for what already happened.
"""

import asyncio
from collections import OrderedDict
from typing import Generic, TypeVar

# Recent outcomes kept for waiters that come after the fact: enough for a burst of
# mail in flight, small enough (tens of bytes each) to cost nothing worth counting.
REMEMBERED_OUTCOMES = 10_000

T = TypeVar("T")


class Outcomes(Generic[T]):
    """Outcomes of type `T` by id: the recent ones remembered, the next ones awaited.

    Every method is called on the event loop that owns the waiters.
    """

    def __init__(self, remembered: int = REMEMBERED_OUTCOMES) -> None:
        """Remember the last `remembered` outcomes for waiters that come late."""
        self._remembered = remembered
        # Each published outcome is numbered, so that a waiter can ask for one newer
        # than a point it took before acting (see `mark`).
        self._published = 0
        self._recent: OrderedDict[int, tuple[int, T]] = OrderedDict()
        self._waiters: dict[int, list[asyncio.Future[T]]] = {}

    def mark(self) -> int:
        """Return a point in time: `wait(id, after=mark)` finds only outcomes published since."""
        return self._published

    def publish(self, key: int, outcome: T) -> None:
        """Record `outcome` as the newest for `key`, and hand it to everyone waiting for it."""
        self._published += 1
        self._recent[key] = (self._published, outcome)
        self._recent.move_to_end(key)
        while len(self._recent) > self._remembered:
            self._recent.popitem(last=False)
        for waiter in self._waiters.pop(key, []):
            if not waiter.done():
                waiter.set_result(outcome)

    async def wait(self, key: int, *, after: int = 0) -> T:
        """Return the newest outcome for `key` published after `after`, waiting for one if none.

        With the default `after`, any remembered outcome will do; a waiter that is
        cancelled (say, by a timeout) leaves nothing behind.
        """
        recent = self._recent.get(key)
        if recent is not None and recent[0] > after:
            return recent[1]
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(waiter)
        try:
            return await waiter
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None and waiter in waiting:
                waiting.remove(waiter)
                if not waiting:
                    del self._waiters[key]
