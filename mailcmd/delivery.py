"""Delivery of the outbox: into local accounts' inboxes, and to other domains by the relay.

Local delivery happens in one transaction with the message's new status: exactly
once. Relay delivery claims the message (status `processing` until a lease runs
out), sends outside any transaction, then records the verdict; a crash between
sending and recording sends again after the lease, as SMTP allows. A message that
fails for good produces no bounce: mailcmd's mail is automatic (RFC 3834). A
message that holds a secret keeps only its header once done or failed.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from mailcmd.db.database import Database
from mailcmd.db.models import OutboundMessage, QueueStatus
from mailcmd.db.types import utc_now
from mailcmd.mailstore import INBOX, append, local_account_id
from mailcmd.outbox import settle
from mailcmd.relay import RelayResult, send_via_relay
from mailcmd.settings import RelaySettings

log = logging.getLogger(__name__)

BATCH = 50
# Mail for other domains waits this long between looks while no relay is configured.
NO_RELAY_RECHECK = timedelta(hours=1)
NO_RELAY = "waiting: no relay is configured for other domains ([relay] host)"
NO_RELAY_IN_TIME = "no relay was configured for other domains within relay.max_delivery_age"
# How long a relay delivery may take before another deliverer may try the message.
RELAY_LEASE = timedelta(minutes=10)

Signer = Callable[[bytes], bytes]


@dataclass(frozen=True)
class _RelayJob:
    outbound_id: int
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


class Deliverer:
    """Delivers queued outbound messages until stopped; `wake` after queueing mail."""

    def __init__(
        self,
        database: Database,
        relay: RelaySettings,
        poll_seconds: float,
        sign: Signer | None = None,
        on_local_delivery: Callable[[], None] | None = None,
    ) -> None:
        """Deliver from `database`'s outbox; mail for other domains goes through `relay`.

        `sign` (DKIM) is applied to mail that leaves through the relay;
        `on_local_delivery` hears, on the event loop, of each commit that filled a
        local mailbox.
        """
        self._database = database
        self._relay = relay
        self._poll_seconds = poll_seconds
        self._sign = sign
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sending: set[asyncio.Future[None]] = set()
        # A relay that is slow to answer holds threads of its own, never the default
        # pool that stores mail and checks logins.
        self._relay_threads = ThreadPoolExecutor(relay.concurrency, thread_name_prefix="relay")
        self._on_local_delivery = on_local_delivery
        self._delivered_locally = False

    def wake(self) -> None:
        """Look at the outbox now."""
        self._wakeup.set()

    def start(self) -> None:
        """Start delivering on the running loop."""
        self._task = asyncio.create_task(self._run(), name="mailcmd-deliverer")

    async def stop(self) -> None:
        """Stop delivering; deliveries in progress finish first."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._sending:
            await asyncio.wait(self._sending)
        self._relay_threads.shutdown(wait=False)

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            free = self._relay.concurrency - len(self._sending)
            try:
                jobs = await asyncio.to_thread(self.deliver_ready, max(free, 0))
            except Exception:
                log.exception("delivery failed; trying again in %.0f s", self._poll_seconds)
                jobs = []
            if self._delivered_locally and self._on_local_delivery is not None:
                self._delivered_locally = False
                self._on_local_delivery()
            for job in jobs:
                task = asyncio.get_running_loop().run_in_executor(
                    self._relay_threads, self._relay_one, job
                )
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
                task.add_done_callback(lambda _: self._wakeup.set())
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

    def deliver_ready(self, relay_slots: int = 0) -> list[_RelayJob]:
        """Deliver due mail for local accounts; claim up to `relay_slots` messages for the relay."""
        now = utc_now()
        jobs: list[_RelayJob] = []
        delivered = False
        is_due = and_(
            OutboundMessage.status.in_(
                [QueueStatus.QUEUED, QueueStatus.DEFERRED, QueueStatus.PROCESSING]
            ),
            OutboundMessage.next_attempt_at <= now,
        )
        with self._database.sessions() as session:
            # A look without the write lock first: mail for local accounts is
            # delivered as it is queued, so most wake-ups find nothing to do here.
            if session.scalar(select(OutboundMessage.id).where(is_due).limit(1)) is None:
                return jobs
        with self._database.writing() as session:
            due = session.scalars(
                select(OutboundMessage)
                .where(is_due)
                .order_by(OutboundMessage.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for message in due:
                # Local recipients are served on the first pass only, so that a retry
                # for the relay never delivers them twice.
                first_pass = (
                    message.status == QueueStatus.QUEUED
                    and message.attempts == 0
                    and message.last_error is None
                )
                remote = []
                for rcpt in message.rcpt_tos:
                    owner = local_account_id(session, rcpt)
                    if owner is None:
                        remote.append(rcpt)
                    elif first_pass:
                        append(session, owner, INBOX, message.raw)
                        delivered = True
                        log.info("outbound %d delivered to %s locally", message.id, rcpt)
                if not remote:
                    settle(message, QueueStatus.DONE)
                    message.last_error = None
                elif self._relay.host is None:
                    if self._expired(message, now):
                        # No relay came in time: it fails as it would with one that never
                        # answered (and a secret in it goes with its text).
                        settle(message, QueueStatus.FAILED)
                        message.last_error = NO_RELAY_IN_TIME
                    else:
                        message.status = QueueStatus.QUEUED
                        message.last_error = NO_RELAY
                        message.next_attempt_at = now + NO_RELAY_RECHECK
                elif len(jobs) < relay_slots:
                    message.status = QueueStatus.PROCESSING
                    message.next_attempt_at = now + RELAY_LEASE
                    jobs.append(_RelayJob(message.id, message.mail_from, remote, message.raw))
            session.commit()
        if delivered:
            self._delivered_locally = True
        return jobs

    def _expired(self, message: OutboundMessage, now: datetime) -> bool:
        """Whether `message` has waited as long as any mail may (`max_delivery_age`)."""
        return (now - message.created_at).total_seconds() >= self._relay.max_delivery_age

    def _relay_one(self, job: _RelayJob) -> None:
        raw = self._sign(job.raw) if self._sign is not None else job.raw
        result = send_via_relay(self._relay, job.mail_from, job.rcpt_tos, raw)
        self._record(job, result)

    def _record(self, job: _RelayJob, result: RelayResult) -> None:
        now = utc_now()
        with self._database.writing() as session:
            message = session.get(OutboundMessage, job.outbound_id)
            if message is None:
                return
            message.attempts += 1
            message.last_error = (
                None if result.verdict == "sent" and not result.refused else (result.detail)
            )
            if result.verdict == "sent":
                settle(message, QueueStatus.DONE)
            elif result.verdict == "permanent" or self._expired(message, now):
                settle(message, QueueStatus.FAILED)
            else:
                delay = min(
                    self._relay.retry_seconds * 2 ** (message.attempts - 1),
                    self._relay.max_retry_seconds,
                )
                message.status = QueueStatus.DEFERRED
                message.next_attempt_at = now + timedelta(seconds=delay)
            session.commit()
            status = message.status
        log.info("outbound %d by relay: %s (%s)", job.outbound_id, status.value, result.detail)
