"""Delivery of the outbox: into local accounts' inboxes, and to other domains by the relay.

Mail for local accounts is delivered when it is queued (`mailcmd.outbound`); what
is here is for the relay. Relay delivery claims the message (status `processing`
until a lease runs out), sends outside any transaction, then records the verdict in
the deliverer's next transaction, with its next claim; a crash between sending and
recording sends again after the lease, as SMTP allows. A message that
fails for good produces no bounce: mailcmd's mail is automatic (RFC 3834). A
message that holds a secret keeps only its header once done or failed.
"""

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Connection, Update, select, update
from sqlalchemy.orm import Session

from mailcmd.db.database import Database
from mailcmd.db.models import AccountAddress, Base, OutboundMessage, QueueStatus
from mailcmd.db.queue_states import HELD, QueueEvent, next_status
from mailcmd.db.queue_timing import lease_for, ready_to_claim, retry_delay
from mailcmd.db.types import utc_now
from mailcmd.imap.mailstore import deliver
from mailcmd.operations.metrics.instruments import RELAY_DELIVERIES
from mailcmd.operations.traces import traced
from mailcmd.outbound.outbox import settled
from mailcmd.outbound.relay import RelayConnections, RelayResult
from mailcmd.runtime.outcomes import Outcomes
from mailcmd.runtime.services import Wakeup
from mailcmd.settings import RelaySettings

log = logging.getLogger(__name__)

BATCH = 50
# Mail for other domains waits this long between looks while no relay is configured.
NO_RELAY_RECHECK = timedelta(hours=1)
NO_RELAY = "waiting: no relay is configured for other domains ([relay] host)"
NO_RELAY_IN_TIME = "no relay was configured for other domains within relay.max_delivery_age"
# The longest a relay delivery is expected to take: RFC 5321's five minutes for a
# reply to each command (section 4.5.3.2). It is not cut short: one that takes
# longer than its lease may be sent again by another deliverer, as SMTP allows.
RELAY_ATTEMPT_SECONDS = 300.0

Signer = Callable[[bytes], bytes]


@dataclass(frozen=True)
class _RelayJob:
    """An outbox row as the claim read it (`_JOB_COLUMNS`, in this order)."""

    outbound_id: int
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    holds_secret: bool
    attempts: int
    created_at: datetime
    # The trace it was made in (`mailcmd.operations.traces`): its log lines here carry it.
    trace_id: str | None


_OUTBOX = Base.metadata.tables[OutboundMessage.__tablename__]
_ADDRESSES = Base.metadata.tables[AccountAddress.__tablename__]
_JOB_COLUMNS = (
    _OUTBOX.c.id,
    _OUTBOX.c.mail_from,
    _OUTBOX.c.rcpt_tos,
    _OUTBOX.c.raw,
    _OUTBOX.c.holds_secret,
    _OUTBOX.c.attempts,
    _OUTBOX.c.created_at,
    _OUTBOX.c.trace_id,
)


@dataclass(frozen=True)
class _Verdict:
    """What the relay said of a job, waiting to be recorded."""

    job: _RelayJob
    result: RelayResult


@dataclass
class _Pass:
    """What one look at the outbox did, for the event loop to announce."""

    relay_jobs: list[_RelayJob] = field(default_factory=list)
    # Each message attempted and the status it was left in.
    attempted: list[tuple[int, QueueStatus]] = field(default_factory=list)
    delivered_locally: bool = False


class Deliverer:
    """Delivers queued outbound messages until stopped (a `Service`).

    It wakes when a transaction that queued mail for the relay commits (announced
    on the notifier's `Channel.RELAY_MAIL`, heard by `relay_mail_queued`), when the
    relay answers, on `wake`, and every `poll_seconds`: never for mail delivered to
    a local INBOX.
    """

    name = "deliverer"

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
        self._wakeup = Wakeup()
        # A commit queued mail for the relay since the last look: no need to look first.
        self._work_waits = False
        self._sending: set[asyncio.Future[RelayResult]] = set()
        # The relay's answers, recorded by the next transaction (with its claim):
        # one commit per message sent instead of two.
        self._verdicts: list[_Verdict] = []
        # A relay that is slow to answer holds threads of its own, never the default
        # pool that stores mail and checks logins.
        self._relay_threads = ThreadPoolExecutor(relay.concurrency, thread_name_prefix="relay")
        self._connections = RelayConnections(relay)
        # When the relay's idle connections are next looked at, to close them.
        self._closing_idle: asyncio.TimerHandle | None = None
        self._outcomes = outcomes
        self._on_local_delivery = on_local_delivery

    def wake(self) -> None:
        """Look at the outbox now."""
        self._wakeup.wake()

    def relay_mail_queued(self) -> None:
        """Claim mail for the relay now, without looking first: a commit queued some."""
        self._work_waits = True
        self._wakeup.wake()

    async def start(self) -> None:
        """Nothing to take before delivering begins."""

    async def stop(self) -> None:
        """Stop claiming; `run` then lets the deliveries in progress finish, and returns."""
        self._wakeup.stop()

    async def run(self) -> None:
        """Deliver until stopped; deliveries in progress finish, and their verdicts are recorded."""
        while not self._wakeup.stopping:
            self._wakeup.begin_round()
            await self._deliver_once()
            await self._wakeup.pause(self._poll_seconds)
        if self._sending:
            await asyncio.wait(self._sending)
        if self._verdicts:
            done = await asyncio.to_thread(self._deliver_ready, 0, False, self._verdicts)
            self._announce(done)
        if self._closing_idle is not None:
            self._closing_idle.cancel()
        await asyncio.get_running_loop().run_in_executor(
            self._relay_threads, self._connections.close
        )
        self._relay_threads.shutdown(wait=False)

    async def _deliver_once(self) -> None:
        free = max(self._relay.concurrency - len(self._sending), 0)
        claim = free if self._relay.host is not None else BATCH
        verdicts, self._verdicts = self._verdicts, []
        look_first = not (self._work_waits or verdicts)
        self._work_waits = False
        try:
            done = await asyncio.to_thread(self._deliver_ready, claim, look_first, verdicts)
        except Exception:
            log.exception("delivery failed; trying again in %.0f s", self._poll_seconds)
            # The relay's answers are recorded by the next try; until then (or a
            # crash) their messages stay claimed, and are sent again after the lease.
            self._verdicts[:0] = verdicts
            done = _Pass()
        self._announce(done)
        for job in done.relay_jobs:
            task = asyncio.get_running_loop().run_in_executor(
                self._relay_threads, self._relay_one, job
            )
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            task.add_done_callback(partial(self._relayed, job))

    def _announce(self, done: _Pass) -> None:
        if done.delivered_locally and self._on_local_delivery is not None:
            self._on_local_delivery()
        for outbound_id, status in done.attempted:
            self._outcomes.publish(outbound_id, status)

    def _relayed(self, job: _RelayJob, sending: asyncio.Future[RelayResult]) -> None:
        # A relay slot is free again, and a verdict waits: look again.
        self._wakeup.wake()
        if (
            self._closing_idle is None
            and self._relay.keep_open_seconds > 0
            and not self._wakeup.stopping
        ):
            self._closing_idle = asyncio.get_running_loop().call_later(
                self._relay.keep_open_seconds, self._close_idle
            )
        if sending.cancelled():
            return
        error = sending.exception()
        if error is not None:
            with traced(job.trace_id):
                log.error("relaying outbound %d failed", job.outbound_id, exc_info=error)
            RELAY_DELIVERIES.labels("error").inc()
            return
        RELAY_DELIVERIES.labels(sending.result().verdict).inc()
        self._verdicts.append(_Verdict(job, sending.result()))

    def _close_idle(self) -> None:
        closing = asyncio.get_running_loop().run_in_executor(
            self._relay_threads, self._connections.close_idle
        )
        closing.add_done_callback(self._closed_idle)

    def _closed_idle(self, closing: asyncio.Future[float | None]) -> None:
        # Looks again when the next idle connection is due, as long as one is open.
        self._closing_idle = None
        if closing.cancelled() or closing.exception() is not None or self._wakeup.stopping:
            return
        due = closing.result()
        if due is not None:
            self._closing_idle = asyncio.get_running_loop().call_later(due, self._close_idle)

    def _relay_one(self, job: _RelayJob) -> RelayResult:
        with traced(job.trace_id):
            raw = self._sign(job.raw) if self._sign is not None else job.raw
            return self._connections.send(job.mail_from, job.rcpt_tos, raw)

    def _deliver_ready(self, claim: int, look_first: bool, verdicts: list[_Verdict]) -> _Pass:
        # Records `verdicts` and claims up to `claim` due messages, in one
        # transaction. Core, not the ORM: with replies to the relay this runs for
        # every reply.
        now = utc_now()
        done = _Pass()
        # A held row's lease ends at its next_attempt_at (see `_claim`).
        is_due = ready_to_claim(_OUTBOX.c.status, _OUTBOX.c.next_attempt_at, now)
        if not verdicts:
            if claim <= 0:
                return done  # every relay slot is busy: its verdict wakes us again
            if look_first:
                # A look without the write lock first: most polls find nothing to do.
                with self._database.engine.connect() as connection:
                    found = connection.scalar(select(_OUTBOX.c.id).where(is_due).limit(1))
                if found is None:
                    return done
        with self._database.writing() as session:
            connection = session.connection()
            for verdict in verdicts:
                self._record(connection, verdict, now, done)
            if claim > 0:
                due = connection.execute(
                    select(*_JOB_COLUMNS)
                    .where(is_due)
                    .order_by(_OUTBOX.c.id)
                    .limit(claim)
                    .with_for_update(skip_locked=True)
                ).all()
                self._claim(session, [_RelayJob(*row) for row in due], now, done)
            session.commit()
        return done

    def _claim(self, session: Session, due: list[_RelayJob], now: datetime, done: _Pass) -> None:
        # Claims `due` for the relay; without a relay, they wait (or fail, when they
        # have waited too long).
        connection = session.connection()
        owners = _local_owners(connection, {rcpt for job in due for rcpt in job.rcpt_tos})
        claimed = []
        for job in due:
            remote = [rcpt for rcpt in job.rcpt_tos if rcpt not in owners]
            values: dict[str, object] = {}
            if len(remote) < len(job.rcpt_tos):
                # Recipients that became local accounts since the mail was queued:
                # the address is ours now, so the copy goes to their INBOX, and
                # leaves the row in this same transaction so it is never repeated.
                for rcpt in job.rcpt_tos:
                    if rcpt in owners:
                        with traced(job.trace_id):
                            what = f"outbound {job.outbound_id}"
                            deliver(session, owners[rcpt], rcpt, job.raw, what)
                done.delivered_locally = True
                values["rcpt_tos"] = remote
            if not remote:
                values.update(settled(QueueEvent.SUCCEEDED, job.holds_secret, job.raw))
                values["last_error"] = None
            elif self._relay.host is None:
                if self._expired(job.created_at, now):
                    # No relay came in time: it fails as it would with one that never
                    # answered (and a secret in it goes with its text).
                    values.update(settled(QueueEvent.GIVEN_UP, job.holds_secret, job.raw))
                    values["last_error"] = NO_RELAY_IN_TIME
                else:
                    values["status"] = next_status(HELD, QueueEvent.HANDED_BACK)
                    values["last_error"] = NO_RELAY
                    values["next_attempt_at"] = now + NO_RELAY_RECHECK
            else:
                if values:
                    connection.execute(_update(job.outbound_id).values(values))
                claimed.append(job.outbound_id)
                done.relay_jobs.append(replace(job, rcpt_tos=remote))
                continue  # the relay's verdict comes later
            connection.execute(_update(job.outbound_id).values(values))
            done.attempted.append((job.outbound_id, _status_in(values)))
        if claimed:
            connection.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id.in_(claimed))
                .values(status=HELD, next_attempt_at=now + lease_for(RELAY_ATTEMPT_SECONDS))
            )

    def _record(
        self, connection: Connection, verdict: _Verdict, now: datetime, done: _Pass
    ) -> None:
        # The claim leased the row to this deliverer, so what the claim read of it
        # (its attempts, its age) still holds: one UPDATE records the verdict. A
        # message purged from the outbox meanwhile has nothing to record.
        job, result = verdict.job, verdict.result
        attempts = job.attempts + 1
        values: dict[str, object] = {
            "attempts": attempts,
            "last_error": None
            if result.verdict == "sent" and not result.refused
            else (result.detail),
        }
        # For a deferred message, when it is tried again: said as the worker says it.
        retry = ""
        if result.verdict == "sent":
            values.update(settled(QueueEvent.SUCCEEDED, job.holds_secret, job.raw))
        elif result.verdict == "permanent" or self._expired(job.created_at, now):
            values.update(settled(QueueEvent.GIVEN_UP, job.holds_secret, job.raw))
        else:
            relay = self._relay
            delay = retry_delay(attempts, relay.retry_seconds, relay.max_retry_seconds)
            values["status"] = next_status(HELD, QueueEvent.POSTPONED)
            values["next_attempt_at"] = now + timedelta(seconds=delay)
            retry = f", retry in {delay:g} s"
        recorded = connection.execute(_update(job.outbound_id).values(values))
        if recorded.rowcount != 1:
            return
        status = _status_in(values)
        done.attempted.append((job.outbound_id, status))
        with traced(job.trace_id):
            log.info(
                "outbound %d by relay, attempt %d: %s, reply code %s (%s)%s",
                job.outbound_id,
                attempts,
                status.value,
                result.code if result.code is not None else "none",
                result.detail,
                retry,
            )

    def _expired(self, created_at: datetime, now: datetime) -> bool:
        """Whether mail queued at `created_at` has waited as long as any may."""
        return (now - created_at).total_seconds() >= self._relay.max_delivery_age


def _status_in(values: dict[str, object]) -> QueueStatus:
    """The status that `values` give a row."""
    status = values["status"]
    assert isinstance(status, QueueStatus)
    return status


def _update(outbound_id: int) -> Update:
    """An UPDATE of the outbox row `outbound_id`."""
    return update(_OUTBOX).where(_OUTBOX.c.id == outbound_id)


def _local_owners(connection: Connection, addresses: set[str]) -> dict[str, int]:
    """The local accounts that own any of `addresses`, by address: one statement."""
    if not addresses:
        return {}
    rows = connection.execute(
        select(_ADDRESSES.c.address, _ADDRESSES.c.account_id).where(
            _ADDRESSES.c.address.in_(addresses)
        )
    )
    return {address: account_id for address, account_id in rows}
