"""The states of a queued row, inbound or outbox, and the events that move it: one table.

Both queues use the same five statuses (`QueueStatus`) and move between them the
same way: every place that changes a row's status asks `next_status` for the new
one, so that `TRANSITIONS` below is the whole story.

A row starts `queued`; outbox mail for a local account starts `done`, delivered
by the very transaction that queues it. The outbox settles a row it need not send
(all its recipients local now, or no relay configured) in the transaction that
claims it: claimed, then succeeded, given up or handed back, as the table says.

It lives beside `QueueStatus` because it is data about it, pure: the rooms that
touch queued rows (the receiver's queue, the runtime, outbound, the CLI,
operations) all import `mailcmd.db` already, and it imports none of them.
"""

import enum
from dataclasses import dataclass
from typing import Final

from mailcmd.db.models import QueueStatus
from mailcmd.errors import MailcmdError


class QueueEvent(enum.StrEnum):
    """What happens to a queued row that can change its status."""

    CLAIMED = "claimed"
    SUCCEEDED = "succeeded"
    POSTPONED = "postponed"
    GIVEN_UP = "given up"
    HANDED_BACK = "handed back"
    REQUEUED = "requeued"


class QueueTransitionError(MailcmdError, ValueError):
    """A status change the state table does not allow: a mistake in mailcmd's code."""


@dataclass(frozen=True)
class Transition:
    """One row of the state table: in `status`, `event` makes the row `new_status`."""

    status: QueueStatus
    event: QueueEvent
    new_status: QueueStatus


TRANSITIONS: Final = (
    # A worker or a deliverer takes a row for an attempt: a queued one, a deferred
    # one once its retry is due, a processing one once its last claim's lease ran out.
    Transition(QueueStatus.QUEUED, QueueEvent.CLAIMED, QueueStatus.PROCESSING),
    Transition(QueueStatus.DEFERRED, QueueEvent.CLAIMED, QueueStatus.PROCESSING),
    Transition(QueueStatus.PROCESSING, QueueEvent.CLAIMED, QueueStatus.PROCESSING),
    # The attempt did its work (processed; delivered), failed and is tried again
    # after a delay, or failed for good.
    Transition(QueueStatus.PROCESSING, QueueEvent.SUCCEEDED, QueueStatus.DONE),
    Transition(QueueStatus.PROCESSING, QueueEvent.POSTPONED, QueueStatus.DEFERRED),
    Transition(QueueStatus.PROCESSING, QueueEvent.GIVEN_UP, QueueStatus.FAILED),
    # No attempt was made: the worker stops, or no relay is configured.
    Transition(QueueStatus.PROCESSING, QueueEvent.HANDED_BACK, QueueStatus.QUEUED),
    # The operator's `retry`, with a fresh count of attempts. A row being worked on
    # is never requeued: its attempt's outcome would overwrite it.
    Transition(QueueStatus.QUEUED, QueueEvent.REQUEUED, QueueStatus.QUEUED),
    Transition(QueueStatus.DEFERRED, QueueEvent.REQUEUED, QueueStatus.QUEUED),
    Transition(QueueStatus.DONE, QueueEvent.REQUEUED, QueueStatus.QUEUED),
    Transition(QueueStatus.FAILED, QueueEvent.REQUEUED, QueueStatus.QUEUED),
)

_NEXT: Final = {(row.status, row.event): row.new_status for row in TRANSITIONS}


def applies(status: QueueStatus, event: QueueEvent) -> bool:
    """Whether `event` may happen to a row in `status`."""
    return (status, event) in _NEXT


def next_status(status: QueueStatus, event: QueueEvent) -> QueueStatus:
    """The status `event` gives a row in `status`.

    Raises `QueueTransitionError`, naming the status and the ones the event does
    lead from and to, if the table has no such move.
    """
    found = _NEXT.get((status, event))
    if found is None:
        allowed = ", ".join(
            f"{row.status} to {row.new_status}" for row in TRANSITIONS if row.event == event
        )
        raise QueueTransitionError(
            f"a {status} row cannot be {event}: that event moves a row only from {allowed}"
        )
    return found


def statuses_where(event: QueueEvent) -> tuple[QueueStatus, ...]:
    """The statuses in which `event` may happen, in `QueueStatus`'s order."""
    return tuple(status for status in QueueStatus if applies(status, event))


# The status of a row that a claim holds until its attempt ends or its lease runs out.
HELD: Final = next_status(QueueStatus.QUEUED, QueueEvent.CLAIMED)
# What a claim may take: rows waiting for their due time, and held rows whose lease ran out.
CLAIMABLE: Final = statuses_where(QueueEvent.CLAIMED)
WAITING: Final = tuple(status for status in CLAIMABLE if status != HELD)
# Where the work on a row has ended: only the operator's requeue moves it on.
FINAL: Final = tuple(
    status
    for status in QueueStatus
    if all(row.event == QueueEvent.REQUEUED for row in TRANSITIONS if row.status == status)
)
# Where the work on a row is still to come or under way.
UNFINISHED: Final = tuple(status for status in QueueStatus if status not in FINAL)
