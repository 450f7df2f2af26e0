"""The lifecycle every part of the process shares: start in order, stop the other way."""

import asyncio
import logging

import pytest

from mailcmd.runtime.services import ServiceFailed, Wakeup, run_services


class Part:
    """A service that loops on a `Wakeup` until stopped, and writes down what happened to it."""

    def __init__(self, name: str, journal: list[str], fails: bool = False) -> None:
        self.name = name
        self._journal = journal
        self._fails = fails
        self._wakeup = Wakeup()

    async def start(self) -> None:
        self._journal.append(f"start {self.name}")

    async def run(self) -> None:
        while not self._wakeup.stopping:
            self._wakeup.begin_round()
            if self._fails:
                raise OSError("the disk went away")
            await self._wakeup.pause(None)
        self._journal.append(f"{self.name} ran to its end")

    async def stop(self) -> None:
        self._journal.append(f"stop {self.name}")
        self._wakeup.stop()


class Unbindable(Part):
    async def start(self) -> None:
        raise OSError("address in use")


async def test_services_start_in_order_and_each_stops_after_the_one_started_after_it() -> None:
    journal: list[str] = []
    shutdown = asyncio.Event()

    async def while_running() -> None:
        journal.append("ready")
        shutdown.set()
        await shutdown.wait()

    await run_services([Part("a", journal), Part("b", journal)], shutdown, while_running)

    assert journal == [
        "start a",
        "start b",
        "ready",
        "stop b",
        "b ran to its end",
        "stop a",
        "a ran to its end",
    ]


async def test_a_service_that_fails_stops_the_others_and_is_named_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: list[str] = []
    shutdown = asyncio.Event()

    with pytest.raises(ServiceFailed, match=r"^broken failed \(reference [0-9a-f]{12}\)"):
        await run_services(
            [Part("a", journal), Part("broken", journal, fails=True)], shutdown, shutdown.wait
        )

    assert journal == ["start a", "start broken", "stop broken", "stop a", "a ran to its end"]
    failures = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage().split(" (")[0] for record in failures] == ["broken failed"]
    assert failures[0].exc_info is not None


async def test_a_start_that_fails_stops_what_started_and_raises_its_own_error() -> None:
    journal: list[str] = []
    shutdown = asyncio.Event()

    with pytest.raises(OSError, match="address in use"):
        await run_services([Part("a", journal), Unbindable("b", journal)], shutdown, shutdown.wait)

    assert journal == ["start a", "stop a", "a ran to its end"]


async def test_a_wake_up_during_a_round_is_kept_for_the_next_wait() -> None:
    wakeup = Wakeup()
    wakeup.begin_round()
    wakeup.wake()

    await asyncio.wait_for(wakeup.pause(None), 5.0)

    assert not wakeup.stopping
