"""The worker's guards against mail loops and repeats, keyed on a message's Message-ID.

A mail of mailcmd's own that comes back is not run, nor is a Message-ID that the
same sender has had processed before. The database is the truth for both; what
is known without it only skips a lookup whose answer cannot be yes.
"""

from sqlalchemy.orm import Session

from mailcmd.app.context import Sender
from mailcmd.db.inserts import InsertIfNew
from mailcmd.db.models import Base, ProcessedMessage
from mailcmd.db.types import utc_now
from mailcmd.errors import MailcmdError
from mailcmd.outbound.outbox import is_own_message
from mailcmd.runtime.batches import MessageSavepoint

_RECORD_PROCESSED = InsertIfNew(Base.metadata.tables[ProcessedMessage.__tablename__])


def came_back(session: Session, message_id: str, domains: tuple[str, ...]) -> bool:
    """Whether `message_id` is of a mail mailcmd sent itself, come back to it.

    Every Message-ID mailcmd makes ends in `@` and one of its `domains`; one that
    does not cannot be in the outbox, so only the others are looked up there.
    """
    if message_id.lower().removesuffix(">").rpartition("@")[2] not in domains:
        return False
    return is_own_message(session, message_id)


def first_time(session: Session, sender: Sender, message_id: str, queue_id: int) -> bool:
    """Record that `sender`'s `message_id` is processed (as stored message `queue_id`).

    False if it was before: a copy sent again must not run its commands twice. The
    row is inserted in the caller's transaction, so it stays only if the message's
    processing commits.
    """
    key = sender.login or sender.address
    values = {
        "sender": key[:254],
        "message_id": message_id[:255],
        "inbound_message_id": queue_id,
        "processed_at": utc_now(),
    }
    return _RECORD_PROCESSED(session.connection(), values)


class CopyProcessedMeanwhile(MailcmdError):
    """Another copy of a message was processed while this one was started again."""


def start_again(
    session: Session,
    savepoint: MessageSavepoint,
    sender: Sender,
    message_id: str | None,
    queue_id: int,
) -> None:
    """Undo all that message `queue_id` did in `savepoint`, and record it as processed again.

    Raises `CopyProcessedMeanwhile` when a copy with the same Message-ID committed
    in between (only with PostgreSQL, whose writers run side by side): the message
    fails, and its retry finds that it was seen before.
    """
    savepoint.start_again()
    if message_id and not first_time(session, sender, message_id, queue_id):
        raise CopyProcessedMeanwhile(f"{message_id} was processed meanwhile")
