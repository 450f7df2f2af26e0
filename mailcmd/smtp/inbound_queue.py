"""Durable accept: received messages committed to the inbound queue, many per commit."""

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.dml import Insert

from mailcmd.db.database import Database
from mailcmd.db.models import InboundMessage, QueueStatus
from mailcmd.db.notifier import Channel, announce
from mailcmd.db.queue_states import QueueEvent, applies, next_status
from mailcmd.db.types import utc_now
from mailcmd.message.raw_fields import redacted
from mailcmd.runtime.services import Wakeup

log = logging.getLogger(__name__)

# A commit takes whatever arrived while the previous one ran, up to this many.
MAX_BATCH = 256
# ... and up to this many bytes, but always one message: the database copies what it
# is given (SQLite a bound blob, then again into its record; libpq into its send
# buffer), so big messages are committed one at a time and copied one at a time.
MAX_BATCH_BYTES = 4 * 1024 * 1024
# Built once: with a login per message, batches are small and this is per message.
_INSERT_RETURNING_IDS = insert(InboundMessage).returning(
    InboundMessage.id, sort_by_parameter_order=True
)
# A batch of one, the common case then, skips the machinery that orders many ids.
_INSERT_RETURNING_ID = insert(InboundMessage).returning(InboundMessage.id)
# On SQLite a row is made with room for the message, which is then written into it
# (incremental blob I/O): SQLite copies a bound blob and keeps the copy with the
# cached statement until its next use, so a 24 MB message would stay in memory.
_WITH_ROOM = {"raw": func.zeroblob(bindparam("room"))}
_INSERT_ROOM_RETURNING_IDS = (
    insert(InboundMessage)
    .values(_WITH_ROOM)
    .returning(InboundMessage.id, sort_by_parameter_order=True)
)
_INSERT_ROOM_RETURNING_ID = insert(InboundMessage).values(_WITH_ROOM).returning(InboundMessage.id)


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as the receiver took it, with everything later judgement needs."""

    # The receiver's own buffer, not copied to be stored (see ReceiverProtocol.smtp_DATA).
    raw: bytes | bytearray
    mail_from: str
    rcpt_tos: tuple[str, ...]
    account_id: int | None
    client_address: str
    helo: str
    tls_protocol: str | None
    tls_cipher: str | None
    # Minted when its DATA was taken (`mailcmd.operations.traces`).
    trace_id: str
    auth_method: str | None = None
    # Mail from other servers: the authentic From address (DMARC-aligned), and the verdict.
    verified_from: str | None = None
    authentication_results: str | None = None


class InboundQueue:
    """Stores received messages; `put` returns only once the message is committed.

    Sessions that finish DATA at about the same time share one transaction (group
    commit), so a busy server pays one fsync per batch rather than per message. A
    `Service` of the process: its writer runs as the server's task.
    """

    name = "inbound queue"

    def __init__(self, database: Database, on_commit: Callable[[], None] | None = None) -> None:
        """Store into `database`; `run` must be running for `put` to return. `on_commit`
        hears of each batch."""
        self._database = database
        self._on_commit = on_commit
        self._pending: list[tuple[ReceivedMessage, asyncio.Future[int]]] = []
        self._wakeup = Wakeup()

    async def start(self) -> None:
        """Nothing to take before the writer runs."""

    async def stop(self) -> None:
        """Take no more messages; `run` commits what is pending, then returns."""
        self._wakeup.stop()

    async def run(self) -> None:
        """Commit what `put` hands over, in batches, until stopped and nothing is pending."""
        while True:
            self._wakeup.begin_round()
            while self._pending:
                # Taken and committed in one call: no name here keeps the batch's
                # messages alive while the writer waits for the next.
                await self._commit(self._next_batch())
            if self._wakeup.stopping:
                return
            await self._wakeup.pause(None)

    async def put(self, message: ReceivedMessage) -> int:
        """Commit `message` to the inbound queue and return its queue id.

        Raises whatever the database raised if the commit failed; then nothing of
        the message is stored.
        """
        if self._wakeup.stopping:
            raise RuntimeError("the inbound queue is stopping")
        committed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((message, committed))
        self._wakeup.wake()
        return await committed

    def _next_batch(self) -> list[tuple[ReceivedMessage, "asyncio.Future[int]"]]:
        size = 0
        taken = min(len(self._pending), MAX_BATCH)
        for count, (message, _) in enumerate(self._pending[:taken]):
            size += len(message.raw)
            if count and size > MAX_BATCH_BYTES:
                taken = count
                break
        batch = self._pending[:taken]
        del self._pending[:taken]
        return batch

    async def _commit(self, batch: list[tuple[ReceivedMessage, "asyncio.Future[int]"]]) -> None:
        try:
            ids = await asyncio.to_thread(self._store, [item for item, _ in batch])
        except Exception as error:  # every waiter must hear of the failure
            for _, committed in batch:
                if not committed.done():
                    committed.set_exception(error)
            return
        for (_, committed), queue_id in zip(batch, ids, strict=True):
            if not committed.done():
                committed.set_result(queue_id)
        if self._on_commit is not None:
            self._on_commit()

    def _store(self, messages: list[ReceivedMessage]) -> list[int]:
        # One multi-row INSERT through SQLAlchemy Core: the ORM's unit of work would
        # cost more than the database does, and it holds the GIL the receiver needs.
        rows: list[dict[str, object]] = [
            {
                "mail_from": message.mail_from,
                "rcpt_tos": list(message.rcpt_tos),
                "account_id": message.account_id,
                "client_address": message.client_address,
                "helo": message.helo,
                "tls_protocol": message.tls_protocol,
                "tls_cipher": message.tls_cipher,
                "auth_method": message.auth_method,
                "verified_from": message.verified_from,
                "authentication_results": message.authentication_results,
                "size": len(message.raw),
                "trace_id": message.trace_id,
            }
            for message in messages
        ]
        with self._database.writing_connection() as connection:
            # Other processes' workers hear of it; this process's by `on_commit`.
            announce(connection, Channel.NEW_MAIL)
            if not self._database.capabilities.blob_io:
                for row, message in zip(rows, messages, strict=True):
                    row["raw"] = message.raw
                ids = self._insert(connection, rows, _INSERT_RETURNING_ID, _INSERT_RETURNING_IDS)
                if sum(len(message.raw) for message in messages) > MAX_BATCH_BYTES:
                    # libpq keeps its send buffer at the largest size it ever had for
                    # as long as the connection lives: this one is closed after use.
                    connection.detach()
                return ids
            for row in rows:
                row["room"] = row["size"]
            ids = self._insert(
                connection, rows, _INSERT_ROOM_RETURNING_ID, _INSERT_ROOM_RETURNING_IDS
            )
            sqlite = connection.connection.driver_connection
            assert isinstance(sqlite, sqlite3.Connection)
            for queue_id, message in zip(ids, messages, strict=True):
                with sqlite.blobopen(InboundMessage.__tablename__, "raw", queue_id) as blob:
                    blob.write(message.raw)
        return ids

    @staticmethod
    def _insert(
        connection: Connection, rows: list[dict[str, object]], one: Insert, many: Insert
    ) -> list[int]:
        if len(rows) == 1:
            return [connection.execute(one, rows[0]).scalar_one()]
        return list(connection.execute(many, rows).scalars())


def list_inbound(
    session: Session, status: QueueStatus | None = None, limit: int = 100
) -> Sequence[InboundMessage]:
    """Return the newest inbound messages first, optionally only those with `status`."""
    query = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(InboundMessage.status == status)
    return session.scalars(query.options(joinedload(InboundMessage.account))).all()


def get_inbound(session: Session, queue_id: int) -> InboundMessage | None:
    """Return the inbound message with `queue_id`, or None."""
    return session.get(InboundMessage, queue_id, options=[joinedload(InboundMessage.account)])


def find_inbound(session: Session, reference: str) -> InboundMessage | None:
    """Return the inbound message that `reference` names, its queue id or its trace id; or None.

    A trace id as a log line or an `X-Mailcmd-Trace` header gives it; at most one
    message is taken in any trace.
    """
    if reference.isdigit():
        return get_inbound(session, int(reference))
    return session.scalars(
        select(InboundMessage)
        .where(InboundMessage.trace_id == reference)
        .options(joinedload(InboundMessage.account))
        .limit(1)
    ).first()


def requeue(session: Session, queue_id: int) -> InboundMessage | None:
    """Queue the message `queue_id` again for immediate processing, with fresh attempts.

    Returns None if there is no such message; a message being processed, or whose
    text retention dropped, is left alone and returned unchanged.
    """
    message = get_inbound(session, queue_id)
    if (
        message is None
        or not applies(message.status, QueueEvent.REQUEUED)
        or message.raw_dropped_at is not None
    ):
        return message
    message.status = next_status(message.status, QueueEvent.REQUEUED)
    message.attempts = 0
    message.next_attempt_at = utc_now()
    message.claim_token = None
    message.claimed_until = None
    return message


# What a mail that held a secret keeps of its text once processed.
_PROCESSED_NOTE = b"[the text of this message was removed after processing: it held a secret]\r\n"


def without_text(raw: bytes) -> bytes:
    """Return `raw` with its body replaced by a note that it was removed, and no Subject.

    The rest of the header stays, for the operator's record. The Subject goes with
    the body because a command, and whatever a person wrote after it, can be there.
    """
    return redacted(raw, _PROCESSED_NOTE)
