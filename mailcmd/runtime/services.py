"""What every part of a running mailcmd promises, and the one wait its loops share.

A `Service` is started (its ports bound) before the process says it is ready, runs
its own work as a task of the server's `asyncio.TaskGroup`, and is stopped in the
reverse order of the start. A service whose work fails stops the whole process:
the server logs it once and exits non-zero, rather than run on without it.
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from mailcmd.errors import MailcmdError

log = logging.getLogger(__name__)


class Service(Protocol):
    """One part of the process: a listener group, a loop over a queue, a listener for others."""

    @property
    def name(self) -> str:
        """What the operator calls this part (`worker`, `deliverer`, `smtp`): log lines name it."""
        ...

    async def start(self) -> None:
        """Take what the part needs before the process is ready (bind its ports), then return."""
        ...

    async def run(self) -> None:
        """Do the part's own work until `stop` is asked for, then return.

        A part that only answers connections has none and returns at once. Raises only
        for a fault the part cannot go on after; the process then stops.
        """
        ...

    async def stop(self) -> None:
        """Stop; once it returns, `run` has returned and the part holds nothing open."""
        ...


class Wakeup:
    """When a looping service looks at its work again: woken, its period passed, or stopping.

    A wake-up that comes while the loop works is kept for its next wait (the flag is
    cleared at the start of a round, not at its end), so none is ever lost.
    """

    def __init__(self) -> None:
        """A loop that is neither woken nor stopping."""
        self._event = asyncio.Event()
        self._stopping = False

    @property
    def stopping(self) -> bool:
        """Whether `stop` was asked for: the loop ends its round and returns."""
        return self._stopping

    def wake(self) -> None:
        """Look at the work now (something was just stored, here or by another process)."""
        self._event.set()

    def stop(self) -> None:
        """End the loop: a wait in progress returns at once, and no round begins."""
        self._stopping = True
        self._event.set()

    def begin_round(self) -> None:
        """Forget the wake-ups so far: the round about to begin looks at what they announced."""
        self._event.clear()

    async def pause(self, seconds: float | None) -> None:
        """Wait until woken, stopped, or `seconds` have passed (None: no time limit)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)


@runtime_checkable
class Listening(Protocol):
    """A service that listens on ports: what `/healthz` and the start-up lines ask of it."""

    def addresses(self) -> dict[str, str]:
        """Each listener's name and the `host:port` it is bound to (the real port, not 0)."""
        ...

    def listening(self) -> set[str]:
        """The names of its listeners that accept connections now."""
        ...


class ServiceFailed(MailcmdError):
    """A service's work failed, so the process stopped; the message is one line for the operator.

    The process exits with 1, so that its supervisor (systemd's `Restart=on-failure`)
    starts it again.
    """


async def run_services(
    services: Sequence[Service],
    shutdown: asyncio.Event,
    while_running: Callable[[], Awaitable[None]],
) -> None:
    """Start `services` in order, run them, and stop them in the reverse order.

    Each service's `run` is a task of one `asyncio.TaskGroup`, begun as soon as the
    service has started; `while_running` is awaited once every one has. The stop
    begins when `while_running` returns, and it should return once `shutdown` is
    set: by a signal, by whoever runs the server, or by a service whose work
    failed. Each service is stopped only once the one started after it has stopped
    and its `run` has returned.

    Raises whatever a `start` raised, once the services already started have
    stopped; `ServiceFailed` naming the first service whose work failed, once every
    one has stopped.
    """
    failed: list[str] = []

    async def run(service: Service) -> None:
        try:
            await service.run()
        except Exception:
            reference = secrets.token_hex(6)
            # Once, here: the server stops because of it, and says so as it exits.
            log.exception("%s failed (reference %s); stopping", service.name, reference)
            failed.append(f"{service.name} failed (reference {reference}); the log says why")
            shutdown.set()

    # What a start or `while_running` raised, kept out of the group: it would wrap it
    # in an ExceptionGroup.
    raised: Exception | None = None
    async with asyncio.TaskGroup() as tasks:
        started: list[tuple[Service, asyncio.Task[None]]] = []
        try:
            for service in services:
                await service.start()
                task = tasks.create_task(run(service), name=f"mailcmd-{service.name}")
                started.append((service, task))
            await while_running()
        except Exception as error:
            raised = error
        finally:
            for service, task in reversed(started):
                await service.stop()
                await asyncio.wait([task])
    if raised is not None:
        raise raised
    if failed:
        raise ServiceFailed(failed[0])
