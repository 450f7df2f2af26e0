"""Failed logins: a delay that grows with each failure, then a lockout for a while.

Failures are counted per login in the database, so that every front end and the
operator's `mailcmd users unlock` see the same state, and per client address in the
memory of the front end that sees the client.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailcmd.db.models import LoginThrottle
from mailcmd.db.types import utc_now
from mailcmd.settings import AuthSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginState:
    """What the database knows of recent failures for one login."""

    failures: int
    locked_until: datetime | None

    def locked(self, now: datetime) -> bool:
        """Whether the login is locked out at `now`."""
        return self.locked_until is not None and self.locked_until > now


NO_FAILURES = LoginState(failures=0, locked_until=None)


def throttle_key(login: str) -> str:
    """Return the key failures of `login` are counted under: trimmed, lower case, bounded."""
    return login.strip().lower()[:254]


def login_state(session: Session, login: str, policy: AuthSettings) -> LoginState:
    """Return the recent failures and lockout of `login` (old failures are forgotten)."""
    row = session.get(LoginThrottle, throttle_key(login))
    if row is None:
        return NO_FAILURES
    now = utc_now()
    if row.first_failure_at < now - timedelta(seconds=policy.lockout_seconds) and not (
        row.locked_until and row.locked_until > now
    ):
        return NO_FAILURES
    return LoginState(failures=row.failures, locked_until=row.locked_until)


def record_login_failure(session: Session, login: str, policy: AuthSettings) -> LoginState:
    """Count one more failure for `login`, locking it when the threshold is reached."""
    key = throttle_key(login)
    now = utc_now()
    window = timedelta(seconds=policy.lockout_seconds)
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(login=key, failures=0, first_failure_at=now)
        session.add(row)
    elif row.first_failure_at < now - window and not (row.locked_until and row.locked_until > now):
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= policy.lockout_failures and not (
        row.locked_until and row.locked_until > now
    ):
        row.locked_until = now + window
        log.warning(
            "locked login %r for %.0f s after %d failures",
            key,
            window.total_seconds(),
            row.failures,
        )
    return LoginState(failures=row.failures, locked_until=row.locked_until)


def clear_login_failures(session: Session, logins: list[str]) -> int:
    """Forget failures and lockouts of `logins`; return how many logins had some."""
    keys = [throttle_key(login) for login in logins]
    found = session.scalars(select(LoginThrottle.login).where(LoginThrottle.login.in_(keys))).all()
    session.execute(delete(LoginThrottle).where(LoginThrottle.login.in_(keys)))
    return len(found)


@dataclass
class _ClientFailures:
    failures: int
    first_at: float
    locked_until: float = 0.0


class ClientFailures:
    """Failed logins per client address, in this process's memory."""

    def __init__(self, policy: AuthSettings) -> None:
        """Count failures under `policy`."""
        self._policy = policy
        self._clients: dict[str, _ClientFailures] = {}

    def failures(self, client: str) -> int:
        """Return the recent failures of `client`."""
        entry = self._current(client)
        return entry.failures if entry else 0

    def locked(self, client: str) -> bool:
        """Whether `client` is locked out now."""
        entry = self._current(client)
        return entry is not None and entry.locked_until > time.monotonic()

    def record_failure(self, client: str) -> int:
        """Count one more failure for `client` and return its recent failures."""
        now = time.monotonic()
        entry = self._current(client)
        if entry is None:
            entry = self._clients[client] = _ClientFailures(failures=0, first_at=now)
        entry.failures += 1
        if entry.failures >= self._policy.client_lockout_failures and entry.locked_until <= now:
            entry.locked_until = now + self._policy.lockout_seconds
            log.warning(
                "locked client %s for %.0f s after %d failures",
                client,
                self._policy.lockout_seconds,
                entry.failures,
            )
        return entry.failures

    def forget(self, client: str) -> None:
        """Forget the failures of `client` after it logged in."""
        self._clients.pop(client, None)

    def _current(self, client: str) -> _ClientFailures | None:
        entry = self._clients.get(client)
        if entry is None:
            return None
        now = time.monotonic()
        if entry.first_at < now - self._policy.lockout_seconds and entry.locked_until <= now:
            del self._clients[client]
            return None
        return entry


def failure_delay(failures: int, policy: AuthSettings) -> float:
    """Return how long to wait before answering the `failures`-th failure in a row."""
    if failures < 1:
        return 0.0
    return float(min(policy.failure_delay * 2 ** (failures - 1), policy.max_failure_delay))
