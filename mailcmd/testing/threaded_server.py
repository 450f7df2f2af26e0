"""A mailcmd server on an event loop of its own in a thread, for code that is not async (tests)."""

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from mailcmd.runtime.server import Server

T = TypeVar("T")


class ThreadedServer:
    """Runs `server` in a thread from `start` until `stop`, as `mailcmd serve` runs it."""

    def __init__(self, server: Server, timeout: float) -> None:
        """Run `server` once started; every wait for it is bounded by `timeout` seconds."""
        self.server = server
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mailcmd-server", daemon=True
        )
        # The one shutdown trigger, set from this side by `stop`.
        self._shutdown = asyncio.Event()
        self._running: concurrent.futures.Future[None] | None = None
        self._stopped = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the server runs on, for work handed to it from another thread."""
        return self._loop

    def start(self) -> None:
        """Start every service; return once all have started.

        Raises what the start raised (a port that cannot be bound, say), once what
        started has stopped.
        """
        self._thread.start()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        async def while_running() -> None:
            ready.set_result(None)
            await self._shutdown.wait()

        self._running = asyncio.run_coroutine_threadsafe(
            self.server.run(self._shutdown, while_running), self._loop
        )
        concurrent.futures.wait(
            [ready, self._running],
            self._timeout,
            return_when=concurrent.futures.FIRST_COMPLETED,
        )
        if not ready.done():
            try:
                self._running.result(0)
            finally:
                self._close_loop()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(self._timeout)

    def shut_down(self) -> None:
        """Begin the stop, as SIGTERM does, without waiting for it (`stop` waits)."""
        self._loop.call_soon_threadsafe(self._shutdown.set)

    def stop(self) -> None:
        """Stop every service, as SIGTERM does, and end the thread; again, nothing.

        Raises `ServiceFailed` if a service's work failed while it ran.
        """
        if self._stopped:
            return
        self._stopped = True
        try:
            if self._running is not None:
                self.shut_down()
                self._running.result(self._timeout)
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        self._stopped = True
        # As `asyncio.run` ends `mailcmd serve`: what is left (a connection accepted as
        # the listeners closed, say) is cancelled and let finish before the loop stops.
        asyncio.run_coroutine_threadsafe(_cancel_the_rest(), self._loop).result(self._timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self._timeout)
        self._loop.close()


async def _cancel_the_rest() -> None:
    rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)
