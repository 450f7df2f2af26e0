"""Many idle connections: what they cost the server, and whether a fresh client still gets in."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.load import raise_file_limit

STEP_SECONDS = 15.0
# Connections are opened this many at a time, within the listen backlog.
OPEN_AT_ONCE = 50


@dataclass(frozen=True)
class IdleResult:
    """A server's memory while holding idle connections, and a newcomer's wait for its greeting."""

    system: str
    connections: int
    held: int
    rss_before_mib: float
    rss_mib: float
    greeting_waits_ms: list[float]


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with asyncio.timeout(STEP_SECONDS):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        greeting = await reader.readline()
    if not greeting.startswith(b"220"):
        writer.close()
        raise ConnectionError(greeting.decode(errors="replace").strip())
    return reader, writer


async def _hold(
    system: str, port: int, count: int, rss: Callable[[], int], fresh_clients: int
) -> IdleResult:
    before = rss()
    held = []
    for start in range(0, count, OPEN_AT_ONCE):
        batch = min(OPEN_AT_ONCE, count - start)
        opened = await asyncio.gather(*(_open(port) for _ in range(batch)), return_exceptions=True)
        held += [pair for pair in opened if not isinstance(pair, BaseException)]
    await asyncio.sleep(0.5)
    waits = []
    for _ in range(fresh_clients):
        began = time.perf_counter()
        try:
            _, writer = await _open(port)
        except (OSError, TimeoutError, ConnectionError):
            waits.append(float("inf"))
            continue
        waits.append(1000 * (time.perf_counter() - began))
        writer.close()
        await asyncio.sleep(0.05)
    during = rss()
    for _, writer in held:
        writer.close()
    return IdleResult(
        system=system,
        connections=count,
        held=len(held),
        rss_before_mib=before / 2**20,
        rss_mib=during / 2**20,
        greeting_waits_ms=waits,
    )


def hold_idle(
    system: str, port: int, count: int, rss: Callable[[], int], fresh_clients: int = 5
) -> IdleResult:
    """Open `count` connections to `port` and keep them idle; meanwhile time fresh greetings.

    `rss` reads the server's resident set size in bytes.
    """
    raise_file_limit()
    return asyncio.run(_hold(system, port, count, rss, fresh_clients))
