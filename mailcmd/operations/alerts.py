"""Alerts for the operator: mail to the `admin` accounts when mail fails or waits too long.

Three kinds, each sent at most once an hour, whichever worker finds it first: inbound
messages that failed for good, outgoing mail the relay refused for good or that aged
out, and an inbound queue whose oldest waiting message has waited too long. One alert
summarises everything of its kind since the last one. The kind's row in `alerts` is
locked while an alert is made (as the scheduler locks a job's row), so that workers
sharing a PostgreSQL database send one alert between them; checking that there is
nothing to say only reads.
"""

import asyncio
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only, selectinload

from mailcmd.addressing.reply_keys import ReplyKeys
from mailcmd.app.context import Notification, Reply
from mailcmd.app.registry import POSTMASTER_ADDRESS
from mailcmd.app.rendering import Renderer
from mailcmd.db.database import Database
from mailcmd.db.models import Account, Alert, InboundMessage, OutboundMessage, QueueStatus
from mailcmd.db.types import utc_now
from mailcmd.identity.accounts import ADMIN_ROLE
from mailcmd.outbound.mails import notification_mail
from mailcmd.outbound.queueing import queue_outgoing
from mailcmd.runtime.services import Wakeup
from mailcmd.settings import AlertSettings

log = logging.getLogger(__name__)

Queued = TypeVar("Queued", InboundMessage, OutboundMessage)

# One alert of a kind per this long at most: an operator is told, not flooded.
ALERT_INTERVAL = timedelta(hours=1)
# Messages named one by one in an alert; the rest are counted.
MAX_LISTED = 20
# The longest error text an alert quotes for one message.
MAX_ERROR_LENGTH = 200
TEMPLATE = "mailcmd/alert"


class AlertKind(enum.StrEnum):
    """What an alert is about; also the key of its row in `alerts`."""

    FAILED_MESSAGES = "failed-messages"
    FAILED_DELIVERIES = "failed-deliveries"
    QUEUE_BEHIND = "queue-behind"


@dataclass(frozen=True)
class Finding:
    """What one alert reports: a headline, a line per message, and how many more there are."""

    headline: str
    items: list[str]
    more: int
    # The newest failure reported, so that the next alert starts after it.
    reported_until: datetime | None = None


class Alerter:
    """Checks every `settings.check_seconds` for what to alert about, and sends the alerts.

    A `Service` of the process.
    """

    name = "alerts"

    def __init__(
        self,
        database: Database,
        renderer: Renderer,
        keys: Callable[[], ReplyKeys],
        settings: AlertSettings,
        *,
        domain: str,
        on_mail: Callable[[], None] | None = None,
    ) -> None:
        """Alert about `database`'s queues, by mail from `postmaster@domain`.

        `on_mail` hears when an alert was delivered or queued.
        """
        self._database = database
        self._renderer = renderer
        self._keys = keys
        self._settings = settings
        self._domain = domain
        self._on_mail = on_mail
        self._wakeup = Wakeup()
        # Until when each kind is known to be quiet (sent within the hour, here or by
        # another worker): no database work for it until then.
        self._quiet_until: dict[AlertKind, datetime] = {}

    async def start(self) -> None:
        """Nothing to take before the checks begin."""

    async def stop(self) -> None:
        """Stop checking; `run` returns once a check in progress has finished."""
        self._wakeup.stop()

    def check(self) -> list[AlertKind]:
        """Send every alert that is due; return the kinds sent (or logged, with no admin)."""
        sent = []
        for kind in AlertKind:
            now = utc_now()
            if now < self._quiet_until.get(kind, now):
                continue
            with self._database.sessions() as session:
                # Only reads: most checks find nothing to say.
                due = self._due(session, kind, now)
            if due and self._send(kind):
                sent.append(kind)
        return sent

    async def run(self) -> None:
        """Check and alert until stopped."""
        # The first check waits too: a start is busy enough, and trouble takes time.
        await self._wakeup.pause(self._settings.check_seconds)
        while not self._wakeup.stopping:
            try:
                sent = await asyncio.to_thread(self.check)
            except Exception:  # the database may be away for a while; try again later
                log.exception("checking for alerts failed")
                sent = []
            if sent and self._on_mail is not None:
                self._on_mail()
            await self._wakeup.pause(self._settings.check_seconds)

    def _due(self, session: Session, kind: AlertKind, now: datetime) -> Finding | None:
        """What an alert of `kind` would report now, or None when none is due."""
        row = session.get(Alert, kind.value)
        if row is not None and row.last_sent_at is not None:
            quiet_until = row.last_sent_at + ALERT_INTERVAL
            if now < quiet_until:
                self._quiet_until[kind] = quiet_until
                return None
        since = row.reported_until if row is not None else None
        return _FINDERS[kind](session, since, now, self._settings)

    def _send(self, kind: AlertKind) -> bool:
        with self._database.writing() as session:
            row = session.scalar(select(Alert).where(Alert.kind == kind.value).with_for_update())
            if row is None:
                try:
                    with session.begin_nested():
                        row = Alert(kind=kind.value)
                        session.add(row)
                except IntegrityError:
                    # Another worker made the row meanwhile: take its lock instead.
                    row = session.scalars(
                        select(Alert).where(Alert.kind == kind.value).with_for_update()
                    ).one()
            now = utc_now()
            # Asked again under the lock: another worker may have sent it meanwhile.
            finding = self._due(session, kind, now)
            if finding is None:
                return False
            admins = _admin_addresses(session)
            if admins:
                self._queue(session, admins, finding)
                log.info("alert sent to %s: %s", ", ".join(admins), finding.headline)
            else:
                log.warning(
                    "alert (no account has the role %s to mail it to): %s; %s",
                    ADMIN_ROLE,
                    finding.headline,
                    "; ".join(finding.items),
                )
            row.last_sent_at = now
            if finding.reported_until is not None:
                row.reported_until = finding.reported_until
            session.commit()
        self._quiet_until[kind] = now + ALERT_INTERVAL
        return True

    def _queue(self, session: Session, admins: list[str], finding: Finding) -> None:
        keys = self._keys()
        values = {"headline": finding.headline, "items": finding.items, "more": finding.more}
        for address in admins:
            reply = Reply(template=TEMPLATE, values=values, subject=f"alert: {finding.headline}")
            mail = notification_mail(
                session,
                self._renderer,
                keys,
                self._domain,
                Notification(to=address, reply=reply),
                POSTMASTER_ADDRESS,
            )
            queue_outgoing(session, mail, self._domain, keys)


def _admin_addresses(session: Session) -> list[str]:
    """The address of each enabled account with the admin role: its login, else its first."""
    found = []
    accounts = session.scalars(
        select(Account).where(Account.enabled).options(selectinload(Account.addresses))
    )
    for account in accounts:
        # Roles are a JSON list: asked here rather than in SQL, which differs per engine.
        if ADMIN_ROLE not in account.roles:
            continue
        owned = [entry.address for entry in account.addresses]
        if owned:
            found.append(account.login if account.login in owned else owned[0])
    return found


def _failed_messages(
    session: Session, since: datetime | None, now: datetime, settings: AlertSettings
) -> Finding | None:
    return _failures_found(session, InboundMessage, since, "inbound {} failed for good", "queue")


def _failed_deliveries(
    session: Session, since: datetime | None, now: datetime, settings: AlertSettings
) -> Finding | None:
    # The relay's error, in each item, names the recipient it refused.
    return _failures_found(
        session, OutboundMessage, since, "outgoing {} could not be delivered", "outbox"
    )


def _failures_found(
    session: Session, model: type[Queued], since: datetime | None, headline: str, queue: str
) -> Finding | None:
    """The failures in `queue` (the CLI's name for `model`'s) after `since`, if any."""
    rows, count, newest = _failures(session, model, since)
    if not rows:
        return None
    return Finding(
        headline=f"{count} {headline.format(_messages(count))}",
        items=[
            f"{queue} {row.id}{_traced(row.trace_id)}: {error_summary(row.last_error)}"
            f" (mailcmd {queue} show {row.id})"
            for row in rows
        ],
        more=count - len(rows),
        reported_until=newest,
    )


def _traced(trace_id: str | None) -> str:
    """` trace <id>` for a message that has one (not those stored before traces existed)."""
    return f" trace {trace_id}" if trace_id else ""


def _failures(
    session: Session, model: type[Queued], since: datetime | None
) -> tuple[list[Queued], int, datetime | None]:
    """The first failures in `model`'s queue after `since`, their number, the newest's time."""
    conditions = [model.status == QueueStatus.FAILED]
    conditions.append(
        model.failed_at > since if since is not None else model.failed_at.is_not(None)
    )
    rows = session.scalars(
        select(model)
        .options(load_only(model.id, model.last_error, model.trace_id))
        .where(*conditions)
        .order_by(model.failed_at, model.id)
        .limit(MAX_LISTED)
    ).all()
    count, newest = session.execute(
        select(func.count(), func.max(model.failed_at)).where(*conditions)
    ).one()
    return list(rows), count, newest


def _queue_behind(
    session: Session, since: datetime | None, now: datetime, settings: AlertSettings
) -> Finding | None:
    limit = now - timedelta(minutes=settings.queue_delay_minutes)
    waiting = InboundMessage.status == QueueStatus.QUEUED
    late = InboundMessage.received_at < limit
    rows = session.execute(
        select(InboundMessage.id, InboundMessage.received_at, InboundMessage.trace_id)
        .where(waiting, late)
        .order_by(InboundMessage.received_at, InboundMessage.id)
        .limit(MAX_LISTED)
    ).all()
    if not rows:
        return None
    count = session.scalar(select(func.count()).select_from(InboundMessage).where(waiting, late))
    count = count or 0
    oldest_minutes = (now - rows[0].received_at).total_seconds() / 60
    return Finding(
        headline=(
            f"the inbound queue is behind: {count} {_messages(count)} waiting longer than"
            f" {settings.queue_delay_minutes:g} minutes, the oldest {oldest_minutes:.0f}"
        ),
        items=[
            f"queue {id}{_traced(trace_id)}, received {received_at:%Y-%m-%d %H:%M:%S} UTC"
            f" (mailcmd queue show {id})"
            for id, received_at, trace_id in rows
        ],
        more=count - len(rows),
    )


_FINDERS: dict[
    AlertKind, Callable[[Session, datetime | None, datetime, AlertSettings], Finding | None]
] = {
    AlertKind.FAILED_MESSAGES: _failed_messages,
    AlertKind.FAILED_DELIVERIES: _failed_deliveries,
    AlertKind.QUEUE_BEHIND: _queue_behind,
}


def error_summary(error: str | None) -> str:
    """One line of a stored error: its reference and its last line (a traceback's exception)."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    if not lines:
        return "no error recorded"
    summary = lines[-1]
    if len(lines) > 1 and lines[0].startswith("ref="):
        summary = f"{lines[0]} {summary}"
    if len(summary) > MAX_ERROR_LENGTH:
        summary = summary[: MAX_ERROR_LENGTH - 3] + "..."
    return summary


def _messages(count: int) -> str:
    return "message" if count == 1 else "messages"
