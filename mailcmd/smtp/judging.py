"""Judging mail from other servers (DKIM, SPF, DMARC) without holding up anyone else.

The checks wait on DNS servers the sender controls. They get threads of their own,
never the default pool that stores mail, checks logins and serves IMAP; a time
budget per message that includes waiting for a thread; and a limit on how many
of one client's messages are judged at once, so one client cannot take every thread.
"""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mailcmd.identity.authenticity import NotInMemory, TxtResolver, Verdict, evaluate


@dataclass(frozen=True)
class JudgeLimits:
    """How much of the process the checks of mail from other servers may take."""

    threads: int
    """Threads for checks that wait on the network, shared by all clients."""
    seconds_per_message: float
    """From the end of DATA to the verdict, waiting for a thread included."""
    per_client: int
    """Messages of one client address checked at once; its others wait their turn."""


class Judge:
    """Gives the verdict on messages from other servers within `JudgeLimits`.

    When a message's time runs out, its lookups that did not finish count as
    temporary DNS failures: the verdict says "temperror" for them, and never "pass".
    """

    def __init__(self, resolver: TxtResolver, limits: JudgeLimits) -> None:
        """Judge with `resolver`'s lookups, within `limits`; `close` releases the threads."""
        self._resolver = resolver
        self._limits = limits
        self._threads = ThreadPoolExecutor(limits.threads, thread_name_prefix="mailcmd-judge")
        self._clients = _ClientShares(limits.per_client)

    async def verdict(self, raw: bytes | bytearray, client: str, helo: str, sender: str) -> Verdict:
        """Return the verdict on `raw` (see `evaluate`), by the limits' time per message.

        Raises `ValueError` if `client` is not an IP address.
        """
        deadline = time.monotonic() + self._limits.seconds_per_message
        try:
            # Most mail comes from domains seen lately, whose records are still in
            # memory: judged here, with no thread to wait for.
            return evaluate(raw, client, helo, sender, self._resolver.from_memory())
        except NotInMemory:
            pass
        async with self._clients.share(client):
            # A message that waited past its deadline is still judged, but every
            # lookup fails at once: the thread is given back within moments.
            resolver = self._resolver.until(deadline)
            return await asyncio.get_running_loop().run_in_executor(
                self._threads, evaluate, raw, client, helo, sender, resolver
            )

    def close(self) -> None:
        """Stop taking work; checks under way end by their deadlines."""
        self._threads.shutdown(wait=False, cancel_futures=True)


class _ClientShares:
    """At most `limit` holders per client address; addresses without holders are forgotten."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._holders: Counter[str] = Counter()

    @asynccontextmanager
    async def share(self, client: str) -> AsyncIterator[None]:
        slots = self._slots.setdefault(client, asyncio.Semaphore(self._limit))
        self._holders[client] += 1
        try:
            async with slots:
                yield
        finally:
            self._holders[client] -= 1
            if not self._holders[client]:
                del self._holders[client], self._slots[client]
