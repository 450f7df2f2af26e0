"""Checking logins for the SMTP and IMAP servers: off the event loop, with a short cache."""

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from mailcmd.accounts import VerifiedLogin, verify_credentials
from mailcmd.db.database import Database

# How long a successful login is remembered. A password changed or an account
# disabled from another process takes at most this long to bite.
CACHE_SECONDS = 60.0
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _CachedLogin:
    verified: VerifiedLogin
    expires_at: float


class Authenticator:
    """Verifies credentials against the accounts, remembering recent successes.

    Mature mail servers keep such a cache because clients log in again and again
    with the same credentials, and each argon2 check costs a tenth of a second of
    CPU. Entries are keyed by a keyed hash of login and password, never by the
    password itself, and failures are never cached.
    """

    def __init__(self, database: Database, cache_seconds: float = CACHE_SECONDS) -> None:
        """Check credentials against `database`, remembering successes for `cache_seconds`."""
        self._database = database
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, _CachedLogin] = {}
        self._key = secrets.token_bytes(32)

    async def verify(self, login: str, password: str) -> VerifiedLogin | None:
        """Return the account that `login` and `password` prove, or None."""
        key = hmac.new(
            self._key, f"{login}\0{password}".encode(errors="surrogateescape"), hashlib.sha256
        ).digest()
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached.expires_at > now:
            return cached.verified
        verified = await asyncio.to_thread(self._verify, login, password)
        if verified is not None:
            if len(self._cache) >= CACHE_MAX_ENTRIES:
                self._cache = {k: v for k, v in self._cache.items() if v.expires_at > now}
                if len(self._cache) >= CACHE_MAX_ENTRIES:
                    self._cache.clear()
            self._cache[key] = _CachedLogin(verified, now + self._cache_seconds)
        return verified

    def _verify(self, login: str, password: str) -> VerifiedLogin | None:
        with self._database.sessions.begin() as session:
            return verify_credentials(session, login, password)
