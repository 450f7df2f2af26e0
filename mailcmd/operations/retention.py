"""Retention: finished work is kept for the days `[retention]` says, then purged.

What goes: the text of processed inbound messages (the row keeps its envelope and
outcome), processed Message-IDs, delivered and failed outbox rows, INBOX mail when
asked, and confirmations whose reply address no longer acts. Nothing queued,
processing or deferred is ever touched, inbound or outbound.

The purge works in batches of at most `BATCH_ROWS` rows, one short write transaction
each: on SQLite the receiver's commits (its 250s) share the one writer, and they get
their turns between batches however big the backlog is.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, select, tuple_, update
from sqlalchemy.orm import QueryableAttribute, Session

from mailcmd.app.schedules import Cron, ScheduledJob
from mailcmd.db.database import Database
from mailcmd.db.models import (
    Base,
    Confirmation,
    InboundMessage,
    MailFolder,
    MailMessage,
    OutboundMessage,
    ProcessedMessage,
    QueueStatus,
)
from mailcmd.db.queue_states import FINAL
from mailcmd.db.types import utc_now
from mailcmd.imap.mailstore import INBOX, announce_change
from mailcmd.settings import RetentionSettings

log = logging.getLogger(__name__)

# Rows one write transaction removes at most.
BATCH_ROWS = 500
# A confirmation's reply address acts to the end of the day after it expires, in the
# settings' time zone (see `confirmations.key_expiry`): three days after `expires_at`
# it refuses in any zone, and the row is never read again.
CONFIRMATION_GRACE = timedelta(days=3)
# The framework's own scheduled job, beside the app's (whose names start `mailcmd_app_`).
PURGE_JOB_NAME = "mailcmd.retention"


@dataclass(frozen=True)
class Kind:
    """One kind of row retention removes: its name, which rows are due, and how they go.

    `due` selects the key (`key`) of every row due for removal, oldest first;
    `still_due` is what the removing statement checks again on each row, so that a
    row requeued meanwhile (PostgreSQL's writers run side by side) is left alone.
    `remove` removes the rows a condition names and says how many.
    """

    name: str
    verb: str
    kept: str
    key: ColumnElement[Any] | QueryableAttribute[Any]
    due: Select[*tuple[Any, ...]]
    still_due: ColumnElement[bool]
    remove: Callable[[Session, ColumnElement[bool]], int]


@dataclass(frozen=True)
class Count:
    """How many rows of one kind a purge removed, or would remove."""

    kind: Kind
    rows: int

    def describe(self, dry_run: bool) -> str:
        """One line for the operator: `delivered outbox rows (kept 7 days): 12 deleted`."""
        verb = f"would be {self.kind.verb}" if dry_run else self.kind.verb
        return f"{self.kind.name} (kept {self.kind.kept}): {self.rows} {verb}"


def inbound_kinds(retention: RetentionSettings, now: datetime) -> list[Kind]:
    """What `mailcmd queue purge` removes: inbound texts, Message-IDs, closed confirmations."""
    kinds = []
    if retention.inbound_text_days:
        kinds.append(_inbound_texts(retention.inbound_text_days, now))
    if retention.message_id_days:
        kinds.append(_message_ids(retention.message_id_days, now))
    kinds.append(_confirmations(now))
    return kinds


def outbox_kinds(retention: RetentionSettings, now: datetime) -> list[Kind]:
    """What `mailcmd outbox purge` removes: delivered and failed rows, and old INBOX mail."""
    kinds = []
    for status, days in (
        (QueueStatus.DONE, retention.delivered_days),
        (QueueStatus.FAILED, retention.failed_days),
    ):
        if days:
            kinds.append(outbox_rows(status, now - timedelta(days=days), describe_days(days)))
    if retention.inbox_days:
        kinds.append(_inbox_mail(retention.inbox_days, now))
    return kinds


def all_kinds(retention: RetentionSettings, now: datetime) -> list[Kind]:
    """Everything the scheduled purge removes."""
    return inbound_kinds(retention, now) + outbox_kinds(retention, now)


def count(database: Database, kinds: list[Kind]) -> list[Count]:
    """How many rows of each kind are due now; nothing is removed."""
    counts = []
    with database.sessions() as session:
        for kind in kinds:
            due = kind.due.order_by(None).subquery()
            counts.append(Count(kind, session.scalar(select(func.count()).select_from(due)) or 0))
    return counts


def purge(
    database: Database, kinds: list[Kind], stopping: Callable[[], bool] | None = None
) -> list[Count]:
    """Remove the rows of each kind that are due, a batch per transaction; return the counts.

    Once `stopping()` says so, no further batch begins: what is left waits for the
    next purge.
    """
    counts = []
    for kind in kinds:
        batch = and_(kind.key.in_(kind.due.limit(BATCH_ROWS)), kind.still_due)
        total = 0
        while stopping is None or not stopping():
            with database.writing() as session:
                removed = kind.remove(session, batch)
                session.commit()
            total += removed
            if removed < BATCH_ROWS:
                break
        counts.append(Count(kind, total))
    return counts


def purge_job(database: Database, retention: RetentionSettings) -> ScheduledJob:
    """The scheduled purge: every retention setting applied at `retention.schedule`'s slots.

    Run by the app's scheduler beside the app's own jobs, so that each slot runs once
    whatever the number of workers; what it removed is logged.
    """

    def run(stopping: Callable[[], bool]) -> None:
        counts = purge(database, all_kinds(retention, utc_now()), stopping)
        cut_short = " (cut short by a stop)" if stopping() else ""
        lines = "; ".join(count.describe(False) for count in counts)
        log.info("retention purge%s: %s", cut_short, lines)

    return ScheduledJob(PURGE_JOB_NAME, Cron(retention.schedule), run, own_transactions=True)


def outbox_rows(status: QueueStatus, before: datetime, kept: str) -> Kind:
    """Outbox rows in `status`, done or failed, that settled before `before`.

    A finished row's `next_attempt_at` is when it was delivered or failed for good
    (`outbox.settled`), and its (status, next_attempt_at) index finds them. Raises
    `ValueError` for any other status: that mail is still to go.
    """
    if status not in FINAL:
        raise ValueError(f"only done and failed outbox rows are purged, not {status.value}")
    still_due = and_(OutboundMessage.status == status, OutboundMessage.next_attempt_at < before)
    due = select(OutboundMessage.id).where(still_due).order_by(OutboundMessage.next_attempt_at)
    name = "delivered outbox rows" if status == QueueStatus.DONE else "failed outbox rows"
    return Kind(
        name, "deleted", kept, OutboundMessage.id, due, still_due, _deleting(OutboundMessage)
    )


def _inbound_texts(days: int, now: datetime) -> Kind:
    # A finished message's next_attempt_at is when its last attempt was due: when it
    # was processed, near enough.
    still_due = and_(
        InboundMessage.raw_dropped_at.is_(None),
        InboundMessage.next_attempt_at < now - timedelta(days=days),
        InboundMessage.status.in_(FINAL),
    )
    due = select(InboundMessage.id).where(still_due).order_by(InboundMessage.next_attempt_at)

    def drop(session: Session, batch: ColumnElement[bool]) -> int:
        result = session.execute(
            update(InboundMessage)
            .where(batch)
            .values(raw=b"", raw_dropped_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    kept = f"{describe_days(days)} after processing"
    return Kind("inbound message texts", "dropped", kept, InboundMessage.id, due, still_due, drop)


def _message_ids(days: int, now: datetime) -> Kind:
    still_due = ProcessedMessage.processed_at < now - timedelta(days=days)
    due = (
        select(ProcessedMessage.sender, ProcessedMessage.message_id)
        .where(still_due)
        .order_by(ProcessedMessage.processed_at)
    )
    key = tuple_(ProcessedMessage.sender, ProcessedMessage.message_id)
    return Kind(
        "processed Message-IDs",
        "deleted",
        describe_days(days),
        key,
        due,
        still_due,
        _deleting(ProcessedMessage),
    )


def _confirmations(now: datetime) -> Kind:
    # Done, cancelled or never answered alike: once the reply address refuses, the row
    # is never read again.
    still_due = Confirmation.expires_at < now - CONFIRMATION_GRACE
    due = select(Confirmation.id).where(still_due).order_by(Confirmation.id)
    kept = f"{describe_days(CONFIRMATION_GRACE.days)} after they expire"
    return Kind(
        "confirmations",
        "deleted",
        kept,
        Confirmation.id,
        due,
        still_due,
        _deleting(Confirmation),
    )


def _inbox_mail(days: int, now: datetime) -> Kind:
    still_due = MailMessage.internal_at < now - timedelta(days=days)
    due = (
        select(MailMessage.id)
        .join(MailFolder, MailFolder.id == MailMessage.folder_id)
        .where(MailFolder.name == INBOX, still_due)
        .order_by(MailMessage.id)
    )

    def expunge(session: Session, batch: ColumnElement[bool]) -> int:
        # As the mailbox server's own EXPUNGE: the rows go, and each account's change
        # is announced, so that its sessions tell their clients `* n EXPUNGE`.
        rows = session.execute(
            select(MailMessage.id, MailFolder.account_id)
            .join(MailFolder, MailFolder.id == MailMessage.folder_id)
            .where(batch)
        ).all()
        ids = [row[0] for row in rows]
        session.execute(delete(MailMessage).where(MailMessage.id.in_(ids)))
        for account_id in sorted({row[1] for row in rows}):
            announce_change(session, account_id)
        return len(ids)

    return Kind(
        "INBOX mail", "expunged", describe_days(days), MailMessage.id, due, still_due, expunge
    )


def _deleting(table: type[Base]) -> Callable[[Session, ColumnElement[bool]], int]:
    def remove(session: Session, batch: ColumnElement[bool]) -> int:
        result = session.execute(
            delete(table).where(batch).execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    return remove


def describe_days(days: int) -> str:
    """`1 day`, `7 days`: how long a kind is kept, as the purge's lines say it."""
    return f"{days} day{'s' if days != 1 else ''}"


def _rowcount(result: object) -> int:
    # What UPDATE and DELETE report; both SQLite and psycopg count these statements.
    return int(getattr(result, "rowcount", 0) or 0)
