"""The outbox as the operator and the deliverer see it: list, requeue, settle.

Mail gets into it by `mailcmd.outbound`, the one path that composes what mailcmd sends.
"""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcmd.db.models import OutboundMessage, QueueStatus
from mailcmd.db.queue_states import (
    FINAL,
    HELD,
    QueueEvent,
    QueueTransitionError,
    applies,
    next_status,
)
from mailcmd.db.types import utc_now
from mailcmd.message.raw_fields import redacted

# What a mail that held a secret keeps of its text once delivered, or failed for good.
_DELIVERED_NOTE = (
    b"[the text of this message was removed once its delivery ended: it held a secret]\r\n"
)


def list_outbound(
    session: Session, status: QueueStatus | None = None, limit: int = 100
) -> Sequence[OutboundMessage]:
    """Return the newest outbound messages first, optionally only those with `status`."""
    query = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboundMessage.status == status)
    return session.scalars(query).all()


def get_outbound(session: Session, outbound_id: int) -> OutboundMessage | None:
    """Return the outbound message with `outbound_id`, or None."""
    return session.get(OutboundMessage, outbound_id)


def mail_caused_by(session: Session, queue_id: int) -> Sequence[OutboundMessage]:
    """Return the mail that processing the inbound message `queue_id` queued, oldest first."""
    return session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.inbound_message_id == queue_id)
        .order_by(OutboundMessage.id)
    ).all()


def delivery_of(message: OutboundMessage) -> str:
    """How `message` goes (or went): `local`, into an account's INBOX, or `relay`.

    Only the relay counts attempts: a mail delivered locally (when it was queued,
    or by the deliverer, its recipient having become an account's meanwhile) is
    done without one.
    """
    if message.status == QueueStatus.DONE and message.attempts == 0:
        return "local"
    return "relay"


def requeue_outbound(session: Session, outbound_id: int) -> OutboundMessage | None:
    """Queue the outbound message again for immediate delivery; None if there is none.

    A message being sent right now, or whose text was removed once it was delivered
    or failed (it held a secret), is left alone and returned unchanged.
    """
    message = get_outbound(session, outbound_id)
    if message is None or not applies(message.status, QueueEvent.REQUEUED) or is_redacted(message):
        return message
    message.status = next_status(message.status, QueueEvent.REQUEUED)
    message.attempts = 0
    message.last_error = None
    message.next_attempt_at = utc_now()
    return message


def settled(event: QueueEvent, holds_secret: bool, raw: bytes) -> dict[str, object]:
    """The values that give a held outbox row with `raw` its last status, by `event`.

    `event` ends the work on the row: it succeeded (done) or was given up (failed).

    A mail that holds a secret keeps only its header from then on: the copy that
    mattered has reached its recipient, or never will. `next_attempt_at`, of no more
    use to delivery, becomes the moment it settled, from which retention counts.
    """
    status = next_status(HELD, event)
    if status not in FINAL:
        raise QueueTransitionError(f"a row {event} is {status}, not settled")
    values: dict[str, object] = {"status": status, "next_attempt_at": utc_now()}
    if status == QueueStatus.FAILED:
        values["failed_at"] = values["next_attempt_at"]
    if holds_secret:
        values["raw"] = without_secret(raw)
    return values


def is_redacted(message: OutboundMessage) -> bool:
    """Whether `message`'s text was removed because it held a secret (so it cannot be resent)."""
    return message.holds_secret and message.status in FINAL


def without_secret(raw: bytes) -> bytes:
    """Return outbound mail `raw` as the outbox keeps it once a secret in it has been delivered.

    Its header stays for the operator's record, but for the fields that can carry
    the secret: the Subject and the Reply-To (a confirmation code is in both, the
    latter as its plus-tag); its text becomes a one-line note.
    """
    return redacted(raw, _DELIVERED_NOTE, also_dropping=(b"reply-to:",))


def is_own_message(session: Session, message_id: str) -> bool:
    """Whether mailcmd itself sent a mail with `message_id` (so it has come back)."""
    found = session.scalar(
        select(OutboundMessage.id).where(OutboundMessage.message_id == message_id[:255]).limit(1)
    )
    return found is not None
