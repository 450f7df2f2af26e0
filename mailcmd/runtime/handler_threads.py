"""The threads handlers run in: a fixed number, and one given up on stops counting.

Python cannot kill a thread. A call the worker gives up on has its thread replaced
at once, so the pool keeps its size, and that thread leaves when the call ends;
stopping never waits for it. To make the call end, `interrupt` raises
`HandlerAbandoned` inside it (`PyThreadState_SetAsyncExc`), which stops pure-Python
code at its next bytecode and unwinds its `with` blocks; code blocked in C (a long
`time.sleep`, a read without a timeout) sees it when it returns. Where it may be
raised is the caller's to say (`processing.Attempt.commands`).
"""

import asyncio
import ctypes
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


# Outside the MailcmdError family: it must stay a BaseException (see below).
class HandlerAbandoned(BaseException):
    """Raised inside a call the worker gave up on.

    A `BaseException`, like `KeyboardInterrupt`, so that a handler's own
    `except Exception` does not swallow it and carry on.
    """


@dataclass
class _Call(Generic[T]):
    function: Callable[[], T]
    result: Future[T] = field(default_factory=Future)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread_id: int | None = None
    finished: bool = False
    abandoned: bool = False


class RunningCall(Generic[T]):
    """A call queued on `HandlerThreads`: its result, and the means to give up on it."""

    def __init__(self, threads: "HandlerThreads", call: _Call[T]) -> None:
        """The handle of `call` on `threads`."""
        self._threads = threads
        self._call = call
        self.result: asyncio.Future[T] = asyncio.wrap_future(call.result)

    def abandon(self) -> bool:
        """Give up on the call: it stops holding a thread. False if it has already finished.

        The call itself runs on until it ends: `interrupt` is how to end it.
        """
        return self._threads._abandon(self._call)


class HandlerThreads:
    """`size` threads that run calls one at a time each; see the module's docstring."""

    def __init__(self, size: int, name: str) -> None:
        """Start `size` threads named after `name`."""
        self._name = name
        self._calls: queue.SimpleQueue[_Call[object] | None] = queue.SimpleQueue()
        self._threads: set[threading.Thread] = set()
        # Threads whose call was given up on, until the call ends.
        self._abandoned: set[threading.Thread] = set()
        self._started = 0
        self._guard = threading.Lock()
        for _ in range(size):
            self._start_thread()

    def submit(self, function: Callable[[], T]) -> "RunningCall[T]":
        """Queue `function` for the next free thread; the handle awaits it or gives it up."""
        call: _Call[T] = _Call(function)
        self._calls.put(call)  # type: ignore[arg-type]
        return RunningCall(self, call)

    async def run(self, function: Callable[[], T]) -> T:
        """Run `function` in a thread and return its result."""
        return await self.submit(function).result

    def stop(self, grace: float = 0.0) -> None:
        """End the threads after the calls queued before; wait for those not given up on,
        and up to `grace` seconds in all for those given up on to end."""
        with self._guard:
            threads = list(self._threads)
            abandoned = list(self._abandoned)
        for _ in threads:
            self._calls.put(None)
        for thread in threads:
            thread.join()
        # A call given up on still holds what it was using (a database connection,
        # say) until it ends: given the time, it gives it back before its owner closes.
        deadline = time.monotonic() + grace
        for thread in abandoned:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def _abandon(self, call: "_Call[T]") -> bool:
        with call.lock:
            if call.finished:
                return False
            call.abandoned = True
            if call.thread_id is None:
                return True  # not started: the thread that takes it skips it
            with self._guard:
                given_up = {t for t in self._threads if t.ident == call.thread_id}
                self._threads -= given_up
                self._abandoned |= given_up
        self._start_thread()
        return True

    def _start_thread(self) -> None:
        with self._guard:
            self._started += 1
            thread = threading.Thread(
                target=self._serve, name=f"{self._name}-{self._started}", daemon=True
            )
            self._threads.add(thread)
        thread.start()

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            call = self._calls.get()
            if call is None or not self._perform(call):
                break
        with self._guard:
            self._threads.discard(me)
            self._abandoned.discard(me)

    def _perform(self, call: _Call[T]) -> bool:
        """Run `call`; False when it was abandoned and this thread has to go."""
        with call.lock:
            if call.abandoned:
                return True  # given up on before it started: nothing ran
            call.thread_id = threading.get_ident()
        try:
            try:
                outcome = call.function()
            finally:
                with call.lock:
                    call.finished = True
        except HandlerAbandoned:
            log.warning("a handler given up on has stopped")
            return False
        except BaseException as error:
            if call.abandoned:
                return False
            call.result.set_exception(error)
            return True
        if call.abandoned:
            return False
        call.result.set_result(outcome)
        return True


def interrupt(thread_id: int, exception: type[BaseException] | None) -> None:
    """Raise `exception` in the thread `thread_id` at its next bytecode; None takes it back."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )
