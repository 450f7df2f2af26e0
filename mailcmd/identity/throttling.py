"""Failed logins: a delay that grows with each failure, then a lockout of that client.

Failures are counted per login and client address in the database, so that every
front end and the operator's `mailcmd users unlock` see the same state. A lockout
binds one (login, client) pair, as Dovecot's auth penalty and fail2ban do: a
guesser who knows a login cannot lock its owner out, since a correct password
from an address with no failures still gets in. A login's failures from every
address together only slow down the answers to failures, and never lock. Failures
per client address over all logins are counted in the memory of the front end
that sees the client, and lock that client out of every login.
"""

import ipaddress
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from mailcmd.db.models import CLIENT_LENGTH, LoginThrottle
from mailcmd.db.queue_timing import retry_delay
from mailcmd.db.types import utc_now
from mailcmd.settings import AuthSettings

log = logging.getLogger(__name__)

# The most a login's failures from every address together delay an answer. Small,
# because the owner shares the login with the guessers: it slows a guesser spread
# over many addresses a little, and never turns into a lockout.
MAX_SHARED_DELAY = 2.0
# One IPv6 host usually holds a whole /64, and would get a fresh count from each
# of its addresses: failures from IPv6 are counted per /64 network.
IPV6_CLIENT_PREFIX = 64
# Client addresses whose failures one front end remembers at most.
MAX_CLIENTS = 100_000


@dataclass(frozen=True)
class LoginState:
    """What the database knows of recent failures for one login from one client."""

    # Failures of the login from this client, and the lockout of that pair.
    failures: int
    locked_until: datetime | None
    # Failures of the login from every client, this one included.
    login_failures: int = 0

    def locked(self, now: datetime) -> bool:
        """Whether the login is locked out for this client at `now`."""
        return self.locked_until is not None and self.locked_until > now


NO_FAILURES = LoginState(failures=0, locked_until=None)


def throttle_key(login: str) -> str:
    """Return the key failures of `login` are counted under: trimmed, lower case, bounded."""
    return login.strip().lower()[:254]


def client_key(client: str) -> str:
    """Return the key failures from `client` are counted under: its address, or its /64.

    An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) counts as the IPv4 address.
    """
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:CLIENT_LENGTH]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


def login_state(session: Session, login: str, client: str, policy: AuthSettings) -> LoginState:
    """Return the recent failures of `login` (from `client`, and from all) and the lockout."""
    key, now = throttle_key(login), utc_now()
    rows = session.scalars(
        select(LoginThrottle).where(LoginThrottle.login == key, _current(policy, now))
    ).all()
    pair = next((row for row in rows if row.client == client_key(client)), None)
    return LoginState(
        failures=pair.failures if pair is not None else 0,
        locked_until=pair.locked_until if pair is not None else None,
        login_failures=sum(row.failures for row in rows),
    )


def record_login_failure(
    session: Session, login: str, client: str, policy: AuthSettings
) -> LoginState:
    """Count one more failure of `login` from `client`, locking that pair at the threshold.

    Also forgets the failures of every login that have lapsed, so that the table
    holds only what can still matter.
    """
    key, source, now = throttle_key(login), client_key(client), utc_now()
    window = timedelta(seconds=policy.lockout_seconds)
    session.execute(delete(LoginThrottle).where(~_current(policy, now)))
    row = session.get(LoginThrottle, (key, source), with_for_update=True)
    if row is None:
        row = LoginThrottle(login=key, client=source, failures=0, first_failure_at=now)
        session.add(row)
    row.failures += 1
    if row.failures >= policy.lockout_failures and not (
        row.locked_until and row.locked_until > now
    ):
        row.locked_until = now + window
        log.warning(
            "locked login %r from %s for %.0f s after %d failures",
            key,
            source,
            window.total_seconds(),
            row.failures,
        )
    session.flush()
    everywhere = session.scalar(
        select(func.sum(LoginThrottle.failures)).where(LoginThrottle.login == key)
    )
    return LoginState(
        failures=row.failures, locked_until=row.locked_until, login_failures=everywhere or 0
    )


def clear_login_failures(session: Session, logins: list[str], client: str | None = None) -> int:
    """Forget failures and lockouts of `logins` (from `client` only, if given).

    Returns how many of the logins had some.
    """
    keys = [throttle_key(login) for login in logins]
    which: ColumnElement[bool] = LoginThrottle.login.in_(keys)
    if client is not None:
        which = and_(which, LoginThrottle.client == client_key(client))
    found = session.scalars(select(LoginThrottle.login).where(which).distinct()).all()
    session.execute(delete(LoginThrottle).where(which))
    return len(found)


def _current(policy: AuthSettings, now: datetime) -> ColumnElement[bool]:
    # Failures count for `lockout_seconds` after the first of a series, and a
    # lockout for as long as it lasts.
    return or_(
        LoginThrottle.first_failure_at >= now - timedelta(seconds=policy.lockout_seconds),
        LoginThrottle.locked_until > now,
    )


@dataclass
class _ClientFailures:
    failures: int
    first_at: float
    locked_until: float = 0.0


class ClientFailures:
    """Failed logins per client address (an IPv6 client's /64), in this process's memory.

    Holds at most `MAX_CLIENTS` clients: when full, lapsed entries go first, then
    those not locked out, so that many addresses cannot grow it or clear a lockout.
    """

    def __init__(self, policy: AuthSettings) -> None:
        """Count failures under `policy`."""
        self._policy = policy
        self._clients: dict[str, _ClientFailures] = {}

    def locked(self, client: str) -> bool:
        """Whether `client` is locked out now."""
        entry = self._current(client_key(client))
        return entry is not None and entry.locked_until > time.monotonic()

    def record_failure(self, client: str) -> int:
        """Count one more failure for `client` and return its recent failures."""
        now = time.monotonic()
        key = client_key(client)
        entry = self._current(key)
        if entry is None:
            if len(self._clients) >= MAX_CLIENTS:
                self._make_room(now)
            entry = self._clients[key] = _ClientFailures(failures=0, first_at=now)
        entry.failures += 1
        if entry.failures >= self._policy.client_lockout_failures and entry.locked_until <= now:
            entry.locked_until = now + self._policy.lockout_seconds
            log.warning(
                "locked client %s for %.0f s after %d failures",
                key,
                self._policy.lockout_seconds,
                entry.failures,
            )
        return entry.failures

    def forget(self, client: str) -> None:
        """Forget the failures of `client` after it logged in."""
        self._clients.pop(client_key(client), None)

    def _current(self, key: str) -> _ClientFailures | None:
        entry = self._clients.get(key)
        if entry is None:
            return None
        if self._lapsed(entry, time.monotonic()):
            del self._clients[key]
            return None
        return entry

    def _lapsed(self, entry: _ClientFailures, now: float) -> bool:
        return entry.first_at < now - self._policy.lockout_seconds and entry.locked_until <= now

    def _make_room(self, now: float) -> None:
        kept = {key: entry for key, entry in self._clients.items() if not self._lapsed(entry, now)}
        if len(kept) >= MAX_CLIENTS:
            kept = {key: entry for key, entry in kept.items() if entry.locked_until > now}
        self._clients = kept


def failure_delay(failures: int, policy: AuthSettings) -> float:
    """Return how long to wait before answering the `failures`-th failure in a row."""
    if failures < 1:
        return 0.0
    # The same doubling up to a cap as the queues' retries.
    return retry_delay(failures, policy.failure_delay, policy.max_failure_delay)


def answer_delay(state: LoginState, client_failures: int, policy: AuthSettings) -> float:
    """Return how long to wait before saying a login failed.

    It grows with the failures from this client (of this login, or of any) up to
    `max_failure_delay`, and with the login's failures from every client only up to
    `MAX_SHARED_DELAY`.
    """
    own = failure_delay(max(state.failures, client_failures), policy)
    shared = min(failure_delay(state.login_failures, policy), MAX_SHARED_DELAY)
    return max(own, shared)
