"""Delivery of the outbox: into local accounts' inboxes now, to other domains by relay.

Each outbound message is delivered in one transaction with its new status, so a
crash delivers it either not at all (it is tried again) or exactly once.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, or_, select

from mailcmd.db.database import Database
from mailcmd.db.models import OutboundMessage, QueueStatus
from mailcmd.db.types import utc_now
from mailcmd.mailstore import INBOX, append, local_account_id

log = logging.getLogger(__name__)

BATCH = 50
# Mail for other domains waits this long between looks while no relay is configured.
NO_RELAY_RECHECK = timedelta(hours=1)
NO_RELAY = "waiting: no relay is configured for other domains ([relay] host)"


class Deliverer:
    """Delivers queued outbound messages until stopped; `wake` after queueing mail."""

    def __init__(
        self,
        database: Database,
        poll_seconds: float,
        on_delivered: Callable[[int], None] | None = None,
    ) -> None:
        """Deliver from `database`'s outbox, looking at least every `poll_seconds`."""
        self._database = database
        self._poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._on_delivered = on_delivered
        self._stopping = False

    def wake(self) -> None:
        """Look at the outbox now."""
        self._wakeup.set()

    def start(self) -> None:
        """Start delivering on the running loop."""
        self._task = asyncio.create_task(self._run(), name="mailcmd-deliverer")

    async def stop(self) -> None:
        """Stop delivering; a delivery in progress finishes its transaction first."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                delivered = await asyncio.to_thread(self.deliver_ready)
            except Exception:
                log.exception("delivery failed; trying again in %.0f s", self._poll_seconds)
                delivered = []
            for outbound_id in delivered:
                if self._on_delivered is not None:
                    self._on_delivered(outbound_id)
            if len(delivered) == BATCH:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_seconds)

    def pending_local(self) -> int:
        """Return how many due outbound messages are not yet delivered nor waiting for a relay."""
        with self._database.sessions() as session:
            count = session.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .where(OutboundMessage.status.in_([QueueStatus.QUEUED, QueueStatus.DEFERRED]))
                .where(OutboundMessage.next_attempt_at <= utc_now())
                .where(
                    or_(
                        OutboundMessage.last_error.is_(None), OutboundMessage.last_error != NO_RELAY
                    )
                )
            )
        return int(count or 0)

    def deliver_ready(self) -> list[int]:
        """Deliver the outbound messages that are due; return the ids delivered."""
        now = utc_now()
        delivered: list[int] = []
        with self._database.writing() as session:
            due = session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.status.in_([QueueStatus.QUEUED, QueueStatus.DEFERRED]))
                .where(OutboundMessage.next_attempt_at <= now)
                .order_by(OutboundMessage.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for message in due:
                owners = [local_account_id(session, rcpt) for rcpt in message.rcpt_tos]
                if any(owner is None for owner in owners):
                    message.last_error = NO_RELAY
                    message.next_attempt_at = now + NO_RELAY_RECHECK
                    continue
                for owner in owners:
                    assert owner is not None
                    append(session, owner, INBOX, message.raw)
                message.status = QueueStatus.DONE
                message.attempts += 1
                message.last_error = None
                delivered.append(message.id)
            session.commit()
        for outbound_id in delivered:
            log.info("delivered outbound message %d locally", outbound_id)
        return delivered
