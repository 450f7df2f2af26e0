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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import and_, event, select
from sqlalchemy.orm import Session

from mailcmd.db.database import Database
from mailcmd.db.models import AccountAddress, OutboundMessage, QueueStatus
from mailcmd.db.types import utc_now
from mailcmd.mailstore import INBOX, append
from mailcmd.outbound import QUEUED_FOR_RELAY
from mailcmd.outbox import settle
from mailcmd.outcomes import Outcomes
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


@dataclass
class _Pass:
    """What one look at the outbox did, for the event loop to announce."""

    relay_jobs: list[_RelayJob] = field(default_factory=list)
    # Each message attempted and the status it was left in.
    attempted: list[tuple[int, QueueStatus]] = field(default_factory=list)
    delivered_locally: bool = False


class Deliverer:
    """Delivers queued outbound messages until stopped.

    It wakes when a transaction on its database that queued mail for the relay
    commits (see `mailcmd.outbound.QUEUED_FOR_RELAY`), when a relay slot frees, on
    `wake`, and every `poll_seconds`: never for mail delivered to a local INBOX.
    """

    def __init__(
        self,
        database: Database,
        relay: RelaySettings,
        poll_seconds: float,
        outcomes: Outcomes[QueueStatus],
        sign: Signer | None = None,
        on_local_delivery: Callable[[], None] | None = None,
    ) -> None:
        """Deliver from `database`'s outbox; mail for other domains goes through `relay`.

        Each message's status after an attempt (done, failed, deferred for a retry,
        or queued to wait for a relay) is published to `outcomes` by its id. `sign`
        (DKIM) is applied to mail that leaves through the relay; `on_local_delivery`
        hears, on the event loop, of each commit that filled a local mailbox.
        """
        self._database = database
        self._relay = relay
        self._poll_seconds = poll_seconds
        self._sign = sign
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._sending: set[asyncio.Future[QueueStatus | None]] = set()
        # A relay that is slow to answer holds threads of its own, never the default
        # pool that stores mail and checks logins.
        self._relay_threads = ThreadPoolExecutor(relay.concurrency, thread_name_prefix="relay")
        self._outcomes = outcomes
        self._on_local_delivery = on_local_delivery

    def wake(self) -> None:
        """Look at the outbox now."""
        self._wakeup.set()

    def start(self) -> None:
        """Start delivering on the running loop."""
        self._loop = asyncio.get_running_loop()
        event.listen(Session, "after_commit", self._committed)
        self._task = asyncio.create_task(self._run(), name="mailcmd-deliverer")

    def _committed(self, session: Session) -> None:
        # Runs in the committing thread, for every session of the process: only a
        # commit on this deliverer's database that queued mail for the relay wakes it.
        if QUEUED_FOR_RELAY not in session.info or self._loop is None:
            return
        if getattr(session.bind, "pool", None) is not self._database.engine.pool:
            return
        del session.info[QUEUED_FOR_RELAY]
        self._loop.call_soon_threadsafe(self._wakeup.set)

    async def stop(self) -> None:
        """Stop delivering; deliveries in progress finish first."""
        self._stopping = True
        if self._loop is not None:
            event.remove(Session, "after_commit", self._committed)
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
                done = await asyncio.to_thread(self._deliver_ready, max(free, 0))
            except Exception:
                log.exception("delivery failed; trying again in %.0f s", self._poll_seconds)
                done = _Pass()
            if done.delivered_locally and self._on_local_delivery is not None:
                self._on_local_delivery()
            for outbound_id, status in done.attempted:
                self._outcomes.publish(outbound_id, status)
            for job in done.relay_jobs:
                task = asyncio.get_running_loop().run_in_executor(
                    self._relay_threads, self._relay_one, job
                )
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
                task.add_done_callback(partial(self._relayed, job.outbound_id))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_seconds)

    def _relayed(self, outbound_id: int, sending: asyncio.Future[QueueStatus | None]) -> None:
        # A relay slot is free again: look for more work.
        self._wakeup.set()
        if sending.cancelled():
            return
        error = sending.exception()
        if error is not None:
            log.error("relaying outbound %d failed", outbound_id, exc_info=error)
        elif (status := sending.result()) is not None:
            self._outcomes.publish(outbound_id, status)

    def _deliver_ready(self, relay_slots: int) -> _Pass:
        # Claims up to `relay_slots` due messages for the relay (or, with no relay,
        # settles what waits for one), in one transaction. Mail for local accounts
        # was delivered when it was queued; only what is for the relay is here.
        now = utc_now()
        done = _Pass()
        if self._relay.host is not None and relay_slots <= 0:
            return done  # every relay slot is busy: its verdict wakes us again
        is_due = and_(
            OutboundMessage.status.in_(
                [QueueStatus.QUEUED, QueueStatus.DEFERRED, QueueStatus.PROCESSING]
            ),
            OutboundMessage.next_attempt_at <= now,
        )
        with self._database.sessions() as session:
            # A look without the write lock first: most polls find nothing to do.
            if session.scalar(select(OutboundMessage.id).where(is_due).limit(1)) is None:
                return done
        limit = relay_slots if self._relay.host is not None else BATCH
        with self._database.writing() as session:
            due = session.scalars(
                select(OutboundMessage)
                .where(is_due)
                .order_by(OutboundMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            owners = _local_owners(session, {rcpt for message in due for rcpt in message.rcpt_tos})
            for message in due:
                remote = [rcpt for rcpt in message.rcpt_tos if rcpt not in owners]
                if len(remote) < len(message.rcpt_tos):
                    # Recipients that became local accounts since the mail was queued:
                    # the address is ours now, so the copy goes to their INBOX, and
                    # leaves the row in this same transaction so it is never repeated.
                    for rcpt in message.rcpt_tos:
                        if rcpt in owners:
                            append(session, owners[rcpt], INBOX, message.raw)
                            log.info("outbound %d delivered to %s locally", message.id, rcpt)
                    done.delivered_locally = True
                    message.rcpt_tos = remote
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
                else:
                    message.status = QueueStatus.PROCESSING
                    message.next_attempt_at = now + RELAY_LEASE
                    done.relay_jobs.append(
                        _RelayJob(message.id, message.mail_from, remote, message.raw)
                    )
                    # The relay's verdict comes later.
                    continue
                done.attempted.append((message.id, message.status))
            session.commit()
        return done

    def _expired(self, message: OutboundMessage, now: datetime) -> bool:
        """Whether `message` has waited as long as any mail may (`max_delivery_age`)."""
        return (now - message.created_at).total_seconds() >= self._relay.max_delivery_age

    def _relay_one(self, job: _RelayJob) -> QueueStatus | None:
        raw = self._sign(job.raw) if self._sign is not None else job.raw
        result = send_via_relay(self._relay, job.mail_from, job.rcpt_tos, raw)
        return self._record(job, result)

    def _record(self, job: _RelayJob, result: RelayResult) -> QueueStatus | None:
        # The message's new status; None if it was purged from the outbox meanwhile.
        now = utc_now()
        with self._database.writing() as session:
            message = session.get(OutboundMessage, job.outbound_id)
            if message is None:
                return None
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
        return status


def _local_owners(session: Session, addresses: set[str]) -> dict[str, int]:
    """The local accounts that own any of `addresses`, by address: one statement."""
    if not addresses:
        return {}
    rows = session.execute(
        select(AccountAddress.address, AccountAddress.account_id).where(
            AccountAddress.address.in_(addresses)
        )
    )
    return {address: account_id for address, account_id in rows}
