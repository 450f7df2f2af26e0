"""One slow call at a time in a thread of its own, its result shared by whoever asks meanwhile."""

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Runs `function` off the event loop, never more than one run at once.

    A scrape or a health check that waits on a database that does not answer must
    not pile up threads and connections: a caller that comes while a run is in
    flight waits for that run instead of starting another, and every caller's wait
    is bounded.
    """

    def __init__(self, function: Callable[[], T], name: str) -> None:
        """Run `function` in a thread named after `name`."""
        self._function = function
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._running: asyncio.Future[T] | None = None

    async def result(self, timeout: float) -> T:
        """The result of the run in flight, or of a new one; `TimeoutError` after `timeout` s."""
        if self._running is None or self._running.done():
            running = asyncio.get_running_loop().run_in_executor(self._thread, self._function)
            running.add_done_callback(_log_failure)
            self._running = running
        return await asyncio.wait_for(asyncio.shield(self._running), timeout)

    def close(self) -> None:
        """Start no more runs; one in flight ends on its own."""
        self._thread.shutdown(wait=False)


def _log_failure(done: "asyncio.Future[Any]") -> None:
    # Retrieved here, so a failure that every caller gave up waiting for is still logged.
    if not done.cancelled() and done.exception() is not None:
        log.error("metrics: a run failed", exc_info=done.exception())
