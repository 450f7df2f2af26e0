"""Runs the app's scheduled jobs: each slot once, on one worker, off the event loop.

A run is one transaction: the job's row in `schedule_runs` is locked, its last slot
moved on, the job's changes and its mail made, and all of it committed together. A
second worker that reaches the same slot waits for the lock, then finds the slot
taken. A job seen for the first time starts at its next slot rather than at once.
A framework job that works in transactions of its own (the retention purge) claims
its slot the same way, commits the claim, and only then does its work.
"""

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailcmd.addressing.reply_keys import ReplyKeys
from mailcmd.app.context import ScheduledContext
from mailcmd.app.registry import POSTMASTER_ADDRESS
from mailcmd.app.rendering import Renderer
from mailcmd.app.schedules import ScheduledJob
from mailcmd.db.database import Database
from mailcmd.db.models import ScheduleRun
from mailcmd.db.types import utc_now
from mailcmd.operations.traces import new_trace_id, traced
from mailcmd.outbound.mails import notification_mail
from mailcmd.outbound.queueing import queue_outgoing
from mailcmd.runtime.folder_views import FolderViews
from mailcmd.runtime.services import Wakeup

log = logging.getLogger(__name__)


class Scheduler:
    """Checks the jobs every `poll_seconds` and runs those whose slot has come (a `Service`)."""

    name = "scheduler"

    def __init__(
        self,
        jobs: dict[str, ScheduledJob],
        database: Database,
        renderer: Renderer,
        keys: Callable[[], ReplyKeys],
        *,
        domain: str,
        zone: ZoneInfo,
        poll_seconds: float,
        on_mail: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
        folder_views: FolderViews | None = None,
    ) -> None:
        """Run `jobs` against `database`; `on_mail` hears when a run queued mail; the
        app folders (`folder_views`) of each account a run mailed are synced with it."""
        self._jobs = jobs
        self._database = database
        self._renderer = renderer
        self._keys = keys
        self._domain = domain
        self._zone = zone
        self._poll_seconds = poll_seconds
        self._on_mail = on_mail
        self._clock = clock
        self._folder_views = folder_views
        self._wakeup = Wakeup()
        # The newest slot of each job known to be run (here or by another worker).
        self._known_slots: dict[str, datetime] = {}

    async def start(self) -> None:
        """Nothing to take before the checks begin."""

    async def stop(self) -> None:
        """Stop checking; `run` returns once a run in progress has finished."""
        self._wakeup.stop()

    def run_due(self) -> list[str]:
        """Run every job whose slot has come; return the names of those that ran."""
        ran = []
        for job in self._jobs.values():
            if self._run_job(job):
                ran.append(job.name)
        return ran

    async def run(self) -> None:
        """Run the jobs as their slots come until stopped (nothing to do without jobs)."""
        while self._jobs and not self._wakeup.stopping:
            try:
                ran = await asyncio.to_thread(self.run_due)
            except Exception:  # the database may be away for a while; try again later
                log.exception("checking scheduled jobs failed")
                ran = []
            if ran and self._on_mail is not None:
                self._on_mail()
            await self._wakeup.pause(self._poll_seconds)

    def _run_job(self, job: ScheduledJob) -> bool:
        now = self._clock()
        slot = job.trigger.latest(now, self._zone)
        known = self._known_slots.get(job.name)
        if known is not None and known >= slot:
            return False  # settled already: no database work until the next slot
        claim_and_run = self._claim_then_run if job.own_transactions else self._claim_and_run
        # A run answers no message: it is a trace of its own, which its mail names.
        with traced(new_trace_id()):
            ran = claim_and_run(job, slot, now)
        self._known_slots[job.name] = slot
        return ran

    def _claimed(self, session: Session, job: ScheduledJob, slot: datetime) -> ScheduleRun | None:
        """The job's row, locked, if `slot` is still to run; None if it ran or is new."""
        run = session.scalar(
            select(ScheduleRun).where(ScheduleRun.job == job.name).with_for_update()
        )
        if run is None:
            try:
                with session.begin_nested():
                    session.add(ScheduleRun(job=job.name, last_slot_at=slot))
                session.commit()
            except IntegrityError:
                session.rollback()  # another worker saw the job first
            return None
        return run if run.last_slot_at < slot else None

    def _claim_then_run(self, job: ScheduledJob, slot: datetime, now: datetime) -> bool:
        with self._database.writing() as session:
            run = self._claimed(session, job, slot)
            if run is None:
                return False
            run.last_slot_at = slot
            run.last_run_at = utc_now()
            run.last_error = None
            session.commit()
        try:
            # Read from this thread: a flag the event loop's thread sets once.
            job.function(lambda: self._wakeup.stopping)
        except Exception as error:
            with self._database.writing() as session:
                session.execute(
                    update(ScheduleRun)
                    .where(ScheduleRun.job == job.name)
                    .values(last_error=_failure(job, error))
                )
                session.commit()
        log.info("scheduled job %s ran for %s", job.name, slot.isoformat())
        return True

    def _claim_and_run(self, job: ScheduledJob, slot: datetime, now: datetime) -> bool:
        with self._database.writing() as session:
            run = self._claimed(session, job, slot)
            if run is None:
                return False
            context = ScheduledContext(
                session=session, slot=slot, now=now.astimezone(self._zone), domain=self._domain
            )
            try:
                with session.begin_nested():
                    job.function(context)
                    keys = self._keys()
                    for notification in context.notifications:
                        mail = notification_mail(
                            session,
                            self._renderer,
                            keys,
                            self._domain,
                            notification,
                            POSTMASTER_ADDRESS,
                        )
                        queue_outgoing(session, mail, self._domain, keys)
                        if self._folder_views is not None and mail.owner is not None:
                            self._folder_views.sync(session, [mail.owner.account_id])
                run.last_error = None
            except Exception as error:
                run.last_error = _failure(job, error)
            run.last_slot_at = slot
            run.last_run_at = utc_now()
            session.commit()
        log.info("scheduled job %s ran for %s", job.name, slot.isoformat())
        return True


def _failure(job: ScheduledJob, error: Exception) -> str:
    """Log that `job` failed, with a reference; return what its row keeps of why.

    The slot counts as run all the same: a job that fails would otherwise repeat
    every few seconds. The operator sees why in the log.
    """
    ref = secrets.token_hex(4)
    log.error("ref=%s scheduled job %s failed", ref, job.name, exc_info=error)
    return f"ref={ref} {type(error).__name__}: {error}"
