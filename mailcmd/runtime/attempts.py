"""Attempts at claimed messages, and the batches they are committed in, as the loop sees them.

The worker's event loop and the thread that runs a batch share these objects: the
thread says which attempt runs and since when; the loop gives up on one that runs
past its time limit, or on the whole batch when a handler will not stop.
"""

import enum
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from mailcmd.db.models import QueueStatus
from mailcmd.runtime.claims import ClaimedMessage
from mailcmd.runtime.handler_threads import HandlerAbandoned, interrupt


class ClaimLost(enum.StrEnum):
    """What an attempt ends in when its claim is gone as it records its outcome.

    Its lease ran out and another claim took the message: the attempt changed
    nothing, and the message's status is the other claim's to set.
    """

    LOST = "lost"


# How a message that is done ended: its commands run (or held for confirmation),
# answered with a refusal, or not run at all (automatic mail, a duplicate).
Ending = Literal["done", "refused", "ignored"]


def time_limit_passed(limit: float) -> str:
    """The failure recorded for a message whose handler ran past `limit` seconds."""
    return f"the handler ran longer than {limit:g} s"


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt at a message."""

    # The message's status after the attempt: done, deferred or failed.
    status: QueueStatus | ClaimLost
    detail: str = ""
    # For a deferred message: seconds until it may be tried again.
    retry_in: float | None = None
    # For a message done: how (see `Ending`).
    ending: Ending = "done"


@dataclass
class Attempt:
    """One attempt's coordination with the event loop that waits for it.

    The loop may give up on a handler that runs too long; the attempt's savepoint
    then rolls back instead of being kept. The lock makes "keep" and "give up"
    exclusive: once kept (`committed`), the attempt commits with its batch or not
    at all.
    """

    message: ClaimedMessage
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: Literal["running", "committed", "abandoned"] = "running"
    # The thread running the commands, while it may be interrupted (see `commands`).
    _interruptible: int | None = None
    # When its commands began (`time.monotonic`), for the loop's time limit.
    started_at: float | None = None

    @property
    def queue_id(self) -> int:
        """The id of the message in the inbound queue."""
        return self.message.id

    @property
    def claim_token(self) -> str:
        """The token of the claim the attempt holds."""
        return self.message.claim_token

    def abandon(self) -> bool:
        """Give up on the attempt; False if it has committed already.

        Commands still running get `HandlerAbandoned` raised inside them; an attempt
        given up on before its commands start never runs them.
        """
        with self.lock:
            if self.state == "committed":
                return False
            if self.state == "abandoned":
                return True  # one interruption only: a second could strike while it unwinds
            self.state = "abandoned"
            if self._interruptible is not None:
                interrupt(self._interruptible, HandlerAbandoned)
            return True

    def _abandoned(self) -> bool:
        return self.state == "abandoned"

    @contextmanager
    def commands(self) -> Iterator[None]:
        """The block in which `abandon` may interrupt this thread, and nowhere else.

        Outside it the thread is in the framework's own code (opening, committing,
        closing a session), where an exception from outside could strand a
        database connection half given back to its pool.
        """
        with self.lock:
            self.started_at = time.monotonic()
            if self._abandoned():
                raise HandlerAbandoned
            self._interruptible = threading.get_ident()
        try:
            yield
        finally:
            with self.lock:
                self._interruptible = None
                if self._abandoned():
                    # At most one exception was sent; one not yet arrived must not
                    # arrive after the block.
                    interrupt(threading.get_ident(), None)


class Batch:
    """Claimed messages processed one after another in one transaction, committed together."""

    def __init__(self, attempts: list[Attempt]) -> None:
        """A batch of `attempts`, in the order they run."""
        self.attempts = attempts
        self.lock = threading.Lock()
        # Set when the worker stops: attempts not yet begun are handed back.
        self.stopping = threading.Event()
        self._state: Literal["running", "committed", "given up"] = "running"
        # The attempt being processed now, set by the thread that runs the batch.
        self.running: Attempt | None = None

    @property
    def given_up(self) -> bool:
        """Whether the loop gave up on the batch: it must never commit."""
        return self._state == "given up"

    def give_up(self) -> bool:
        """Give up on the whole batch (a handler that will not stop); False if it has committed."""
        with self.lock:
            if self._state == "committed":
                return False
            self._state = "given up"
            return True

    @contextmanager
    def committing(self) -> Iterator[bool]:
        """The block that commits the batch, with whether it still may (not given up on)."""
        with self.lock:
            may = self._state == "running"
            yield may
            if may:
                self._state = "committed"
