"""When a queued row may be tried: the lease a claim holds it by, and the delay before a retry.

Both queues claim and retry alike. A claim holds a row (status `processing`) for a
lease of `LEASE_FACTOR` times the longest its attempt may take; the lease is never
renewed, and once it has run out any worker or deliverer may claim the row again
(its holder died). An attempt that fails but may be retried waits `retry_delay`:
the queue's first delay, doubling with each attempt, up to the queue's cap.
"""

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import QueryableAttribute

from mailcmd.db.queue_states import CLAIMABLE, HELD, WAITING

# A claim lasts this many times the longest an attempt may take, so that a slow
# commit after an attempt that just made it is not taken for a dead claimer.
LEASE_FACTOR = 2.0
# Past this many doublings the delay is its cap anyway: it keeps a float from
# overflowing when the attempts are counted in the thousands.
_MOST_DOUBLINGS = 64


def lease_for(attempt_limit: float) -> timedelta:
    """How long a claim holds a row whose attempt may take `attempt_limit` seconds."""
    return timedelta(seconds=attempt_limit * LEASE_FACTOR)


def retry_delay(attempts: int, first: float, most: float = math.inf) -> float:
    """Seconds before the next try of a row whose `attempts`-th attempt failed.

    `first` after the first attempt, doubling with each one after it, never more
    than `most`. No jitter: each row's delays follow from its own attempts, and
    rows that failed together are retried in the order they came.
    """
    return min(first * 2.0 ** min(max(attempts - 1, 0), _MOST_DOUBLINGS), most)


# A column as a Core table or an ORM model names it.
ColumnExpression = ColumnElement[Any] | QueryableAttribute[Any]


def ready_to_claim(
    status: ColumnExpression,
    due: ColumnExpression,
    now: datetime,
    lease_end: ColumnExpression | None = None,
) -> ColumnElement[bool]:
    """The condition a row meets when a claim may take it at `now`.

    Waiting (queued or deferred) and due, or held by a claim whose lease ran out
    (`lease_end`, before `now`). A queue whose held rows keep their lease's end in
    `due` itself (the outbox) passes no `lease_end`: the condition is then one
    range of its (status, due) index.
    """
    if lease_end is None:
        return and_(status.in_(CLAIMABLE), due <= now)
    return or_(and_(status.in_(WAITING), due <= now), and_(status == HELD, lease_end < now))
