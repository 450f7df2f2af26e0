"""Checking logins for the SMTP and IMAP servers: off the event loop, cached, throttled."""

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

from mailcmd.db.database import Database
from mailcmd.db.types import utc_now
from mailcmd.identity.accounts import VerifiedLogin, record_login, verify_credentials
from mailcmd.identity.throttling import (
    NO_FAILURES,
    ClientFailures,
    LoginState,
    answer_delay,
    clear_login_failures,
    client_key,
    login_state,
    record_login_failure,
    throttle_key,
)
from mailcmd.operations.metrics.instruments import AUTH_FAILURES, AUTH_LOCKOUTS
from mailcmd.settings import AuthSettings

log = logging.getLogger(__name__)

CACHE_MAX_ENTRIES = 10_000

K = TypeVar("K")
V = TypeVar("V")
# A cached login skips the database's lockout state for this long after it was last
# read and found clear. Failures and lockouts recorded by this process bite at once;
# those recorded by other front ends, within this many seconds.
LOCKOUT_RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class AuthOutcome:
    """The answer to one login attempt."""

    verified: VerifiedLogin | None
    # The client, or the login from this client, is locked out: refuse unchecked.
    locked: bool = False
    # Seconds to wait before telling the client its credentials were wrong.
    delay: float = 0.0


@dataclass(frozen=True)
class _Checked:
    was_locked: bool
    state: LoginState
    verified: VerifiedLogin | None


class _Expiring(Generic[K, V]):
    """A map whose entries lapse each at its own time, holding at most `limit` of them."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        """The value for `key`, or None if there is none or it has lapsed."""
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, key: K, value: V, seconds: float) -> None:
        """Keep `value` for `key` for `seconds`; when full, lapsed entries go first, then all."""
        now = time.monotonic()
        if len(self._entries) >= self._limit:
            self._entries = {k: entry for k, entry in self._entries.items() if entry[0] > now}
            if len(self._entries) >= self._limit:
                self._entries.clear()
        self._entries[key] = (now + seconds, value)

    def discard(self, key: K) -> None:
        """Forget `key`, if it is held."""
        self._entries.pop(key, None)


class Authenticator:
    """Verifies credentials against the accounts, slowing down and locking out guessers.

    The one check behind SMTP AUTH and IMAP LOGIN/AUTHENTICATE. Lockouts bind a
    login to the client address that failed (see `mailcmd.identity.throttling`): the owner
    logging in from elsewhere is never locked out by a guesser.

    Successes are remembered for `cache_seconds`, because clients log in again and
    again with the same credentials and each argon2 check costs a tenth of a second
    of CPU (mature mail servers keep the same cache). Entries are keyed by a keyed
    hash of login and password, never by the password; failures are never cached.
    A password changed or an account disabled from another process takes at most
    `cache_seconds` to bite. A cached login reads the login's lockout state from the
    database at most every `LOCKOUT_RECHECK_SECONDS`, so that argon2 and the
    database both vanish from a client that logs in for every message (per login
    and client, as the lockout is); a failure or
    lockout this process records bites at once, and an `unlock` too, since a state
    that is not clear is never remembered. Logins with the same credentials that
    arrive together (a client's burst of connections, a cold cache) share one check.
    """

    def __init__(self, database: Database, policy: AuthSettings) -> None:
        """Check credentials against `database` under `policy`."""
        self._database = database
        self._policy = policy
        self._clients = ClientFailures(policy)
        self._cache: _Expiring[bytes, VerifiedLogin] = _Expiring(CACHE_MAX_ENTRIES)
        self._key = secrets.token_bytes(32)
        # Credentials being checked right now, so that a burst of logins runs argon2 once.
        self._in_flight: dict[bytes, asyncio.Future[None]] = {}
        # (login, client) pairs whose lockout state was read clear, and until when
        # that is trusted.
        self._known_clear: _Expiring[tuple[str, str], bool] = _Expiring(CACHE_MAX_ENTRIES)

    async def authenticate(self, login: str, password: str, client: str) -> AuthOutcome:
        """Check `login` and `password` from the client address `client`."""
        if self._clients.locked(client):
            log.warning("refused a login from locked client %s", client)
            AUTH_LOCKOUTS.inc()
            return AuthOutcome(verified=None, locked=True)
        key = hmac.new(
            self._key, f"{login}\0{password}".encode(errors="surrogateescape"), hashlib.sha256
        ).digest()
        in_flight = self._in_flight.get(key)
        if in_flight is not None:
            # The same credentials are being checked already: wait for that check
            # rather than run argon2 again. A success is then served from the cache; a
            # failure counts once, and this attempt makes its own check.
            await asyncio.shield(in_flight)
        cached = self._cache.get(key)
        if cached is not None:
            if self._known_clear.get(_pair(login, client)) is None:
                state = await asyncio.to_thread(self._state, login, client)
                if state.locked(utc_now()):
                    return self._locked(login, client)
                if state.failures:
                    await asyncio.to_thread(self._clear, login, client)
                self._remember_clear(login, client)
            self._clients.forget(client)
            log.info("authenticated %s (%s, cached)", cached.login, cached.method)
            return AuthOutcome(verified=cached)
        checking = asyncio.get_running_loop().create_future()
        self._in_flight[key] = checking
        try:
            checked = await asyncio.to_thread(self._check, login, password, client)
        finally:
            if self._in_flight.get(key) is checking:
                del self._in_flight[key]
            checking.set_result(None)
        if checked.was_locked:
            return self._locked(login, client)
        state, verified = checked.state, checked.verified
        if verified is not None:
            self._cache.put(key, verified, self._policy.cache_seconds)
            self._remember_clear(login, client)
            self._clients.forget(client)
            log.info("authenticated %s (%s)", verified.login, verified.method)
            return AuthOutcome(verified=verified)
        self._known_clear.discard(_pair(login, client))
        client_failures = self._clients.record_failure(client)
        log.info("authentication failed from %s (%d recent failures)", client, client_failures)
        AUTH_FAILURES.inc()
        return AuthOutcome(verified=None, delay=answer_delay(state, client_failures, self._policy))

    def _remember_clear(self, login: str, client: str) -> None:
        recheck = min(LOCKOUT_RECHECK_SECONDS, self._policy.cache_seconds)
        self._known_clear.put(_pair(login, client), True, recheck)

    def _locked(self, login: str, client: str) -> AuthOutcome:
        self._known_clear.discard(_pair(login, client))
        log.warning("refused a login for locked login %r from %s", login[:254], client)
        AUTH_LOCKOUTS.inc()
        return AuthOutcome(verified=None, locked=True)

    def _state(self, login: str, client: str) -> LoginState:
        with self._database.sessions() as session:
            return login_state(session, login, client, self._policy)

    def _clear(self, login: str, client: str) -> None:
        with self._database.writing() as session, session.begin():
            clear_login_failures(session, [login], client)

    def _check(self, login: str, password: str, client: str) -> "_Checked":
        # argon2 runs in a transaction that only reads, and the writes follow in one
        # that takes the write lock first: on SQLite a transaction that has read cannot
        # write once another connection has committed (storing mail, say) meanwhile.
        with self._database.sessions() as session:
            state = login_state(session, login, client, self._policy)
            # A locked login is refused before argon2 runs, so a lockout also saves CPU.
            if state.locked(utc_now()):
                return _Checked(was_locked=True, state=state, verified=None)
            verified = verify_credentials(session, login, password)
        with self._database.writing() as session, session.begin():
            if verified is not None:
                record_login(session, verified)
                if state.failures:
                    clear_login_failures(session, [login], client)
                return _Checked(was_locked=False, state=NO_FAILURES, verified=verified)
            state = record_login_failure(session, login, client, self._policy)
            return _Checked(was_locked=False, state=state, verified=None)


def _pair(login: str, client: str) -> tuple[str, str]:
    return throttle_key(login), client_key(client)
