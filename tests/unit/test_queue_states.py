"""The queues' state table, their lease, and their backoff: as the README documents them."""

import math
from datetime import timedelta

import pytest

from mailcmd.db.models import QueueStatus
from mailcmd.db.queue_states import (
    CLAIMABLE,
    FINAL,
    HELD,
    TRANSITIONS,
    UNFINISHED,
    WAITING,
    QueueEvent,
    QueueTransitionError,
    applies,
    next_status,
)
from mailcmd.db.queue_timing import lease_for, retry_delay

QUEUED, PROCESSING, DONE, DEFERRED, FAILED = (
    QueueStatus.QUEUED,
    QueueStatus.PROCESSING,
    QueueStatus.DONE,
    QueueStatus.DEFERRED,
    QueueStatus.FAILED,
)

# Every move a queued row may make, written out again: the table must say no more.
ALLOWED = {
    (QUEUED, QueueEvent.CLAIMED): PROCESSING,
    (DEFERRED, QueueEvent.CLAIMED): PROCESSING,
    (PROCESSING, QueueEvent.CLAIMED): PROCESSING,
    (PROCESSING, QueueEvent.SUCCEEDED): DONE,
    (PROCESSING, QueueEvent.POSTPONED): DEFERRED,
    (PROCESSING, QueueEvent.GIVEN_UP): FAILED,
    (PROCESSING, QueueEvent.HANDED_BACK): QUEUED,
    (QUEUED, QueueEvent.REQUEUED): QUEUED,
    (DEFERRED, QueueEvent.REQUEUED): QUEUED,
    (DONE, QueueEvent.REQUEUED): QUEUED,
    (FAILED, QueueEvent.REQUEUED): QUEUED,
}


@pytest.mark.parametrize(
    ("move", "new_status"),
    ALLOWED.items(),
    ids=[f"{status} {event}" for status, event in ALLOWED],
)
def test_every_allowed_move_gives_its_status(
    move: tuple[QueueStatus, QueueEvent], new_status: QueueStatus
) -> None:
    status, event = move

    assert applies(status, event)
    assert next_status(status, event) == new_status


def test_the_table_allows_nothing_else() -> None:
    table = {(row.status, row.event): row.new_status for row in TRANSITIONS}

    assert table == ALLOWED
    for status in QueueStatus:
        for event in QueueEvent:
            assert applies(status, event) == ((status, event) in ALLOWED)


def test_a_forbidden_move_is_refused_naming_both_statuses() -> None:
    with pytest.raises(QueueTransitionError) as refused:
        next_status(DONE, QueueEvent.POSTPONED)

    assert str(refused.value) == (
        "a done row cannot be postponed: that event moves a row only from processing to deferred"
    )


def test_a_row_being_processed_cannot_be_requeued() -> None:
    with pytest.raises(QueueTransitionError, match="a processing row cannot be requeued"):
        next_status(PROCESSING, QueueEvent.REQUEUED)


def test_the_sets_of_statuses_follow_from_the_table() -> None:
    assert HELD == PROCESSING
    assert CLAIMABLE == (QUEUED, PROCESSING, DEFERRED)
    assert WAITING == (QUEUED, DEFERRED)
    assert FINAL == (DONE, FAILED)
    assert UNFINISHED == (QUEUED, PROCESSING, DEFERRED)


def test_a_lease_is_twice_the_longest_an_attempt_may_take() -> None:
    assert lease_for(30.0) == timedelta(seconds=60)
    assert lease_for(300.0) == timedelta(minutes=10)


def test_retry_delays_start_at_the_first_and_double() -> None:
    delays = [retry_delay(attempts, 30.0) for attempts in range(1, 6)]

    assert delays == [30.0, 60.0, 120.0, 240.0, 480.0]


def test_retry_delays_stop_growing_at_the_cap() -> None:
    delays = [retry_delay(attempts, 60.0, 3600.0) for attempts in range(1, 10)]

    assert delays == [60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0, 3600.0, 3600.0]


def test_a_retry_delay_after_thousands_of_attempts_is_the_cap() -> None:
    assert retry_delay(5000, 60.0, 3600.0) == 3600.0
    assert math.isfinite(retry_delay(5000, 0.05))
