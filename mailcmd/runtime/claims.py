"""Claims on the inbound queue: taking a batch of messages in one statement, and giving it back.

A claim is a token and a lease written on the rows. The claiming statement returns
what processing reads of each message, so that nothing is loaded again by id; with
PostgreSQL it skips rows another worker has locked (`FOR UPDATE SKIP LOCKED`), so
several workers never wait on each other's batches.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, select, update

from mailcmd.db.capabilities import capabilities
from mailcmd.db.models import InboundMessage
from mailcmd.db.queue_states import HELD, QueueEvent, next_status
from mailcmd.db.queue_timing import ready_to_claim
from mailcmd.db.types import utc_now


@dataclass(frozen=True)
class ClaimedMessage:
    """A stored message as its claim returned it: what processing reads of the row."""

    id: int
    claim_token: str
    attempts: int
    raw: bytes
    mail_from: str
    rcpt_tos: list[str]
    account_id: int | None
    client_address: str
    auth_method: str | None
    verified_from: str | None
    authentication_results: str | None
    # The trace it was taken in (`mailcmd.operations.traces`); None if stored before traces existed.
    trace_id: str | None
    # The end of its DATA, for the reply's latency.
    received_at: datetime
    # A person's action in an app folder, in words, and the object (`mailbox:key`) it
    # acts on; None for mail (see `mailcmd.runtime.folder_keeper`).
    folder_action: str | None = None
    folder_object: str | None = None


_RETURNED = (
    InboundMessage.id,
    InboundMessage.claim_token,
    InboundMessage.attempts,
    InboundMessage.raw,
    InboundMessage.mail_from,
    InboundMessage.rcpt_tos,
    InboundMessage.account_id,
    InboundMessage.client_address,
    InboundMessage.auth_method,
    InboundMessage.verified_from,
    InboundMessage.authentication_results,
    InboundMessage.trace_id,
    InboundMessage.received_at,
    InboundMessage.folder_action,
    InboundMessage.folder_object,
)
# Sets the columns its parameters name on a message, while the claim still holds.
# Built once: it runs for every message; SQLAlchemy compiles (and caches) it once
# for each set of columns.
_RECORD = (
    update(InboundMessage)
    .where(InboundMessage.id == bindparam("claimed_id"))
    .where(InboundMessage.claim_token == bindparam("claimed_token"))
)


def claim_ready(
    connection: Connection, token: str, lease: timedelta, limit: int
) -> list[ClaimedMessage]:
    """Claim up to `limit` ready messages with `token` for `lease`, oldest first; return them.

    Ready means queued or deferred and due, or claimed by a worker whose lease ran
    out (it died). One `UPDATE ... RETURNING`; the caller's transaction commits it.
    """
    now = utc_now()
    ready = ready_to_claim(
        InboundMessage.status, InboundMessage.next_attempt_at, now, InboundMessage.claimed_until
    )
    candidates = select(InboundMessage.id).where(ready).order_by(InboundMessage.id).limit(limit)
    if capabilities(connection).skip_locked:
        candidates = candidates.with_for_update(skip_locked=True)
    rows = connection.execute(
        update(InboundMessage)
        .where(InboundMessage.id.in_(candidates.scalar_subquery()))
        .values(
            status=HELD,
            claim_token=token,
            claimed_until=now + lease,
            attempts=InboundMessage.attempts + 1,
        )
        .returning(*_RETURNED)
    ).all()
    return sorted((_claimed(row._mapping) for row in rows), key=lambda claimed: claimed.id)


def reload_claimed(connection: Connection, queue_id: int, token: str) -> ClaimedMessage | None:
    """The message `queue_id` as claimed with `token`, read again; None if the claim is lost."""
    row = connection.execute(
        select(*_RETURNED)
        .where(InboundMessage.id == queue_id)
        .where(InboundMessage.claim_token == token)
    ).first()
    return None if row is None else _claimed(row._mapping)


def record_on_claim(
    connection: Connection, queue_id: int, token: str, values: dict[str, Any]
) -> bool:
    """Set `values` (by column) on message `queue_id` if `token` still claims it; False if lost."""
    parameters = {**values, "claimed_id": queue_id, "claimed_token": token}
    return connection.execute(_RECORD, parameters).rowcount == 1


def release(connection: Connection, claims: list[ClaimedMessage]) -> None:
    """Hand `claims` back to the queue as if never claimed: their attempt was not made."""
    for claim in claims:
        connection.execute(
            update(InboundMessage)
            .where(InboundMessage.id == claim.id)
            .where(InboundMessage.claim_token == claim.claim_token)
            .values(
                status=next_status(HELD, QueueEvent.HANDED_BACK),
                claim_token=None,
                claimed_until=None,
                attempts=InboundMessage.attempts - 1,
            )
        )


def _claimed(row: RowMapping) -> ClaimedMessage:
    return ClaimedMessage(**row)
