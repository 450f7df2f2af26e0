"""The outcomes hub: a waiter finds an outcome published before or after it began."""

import asyncio

import pytest

from mailcmd.runtime.outcomes import Outcomes


async def test_a_waiter_gets_an_outcome_published_after_it_began() -> None:
    outcomes: Outcomes[str] = Outcomes()
    waiting = asyncio.ensure_future(outcomes.wait(7))
    await asyncio.sleep(0)  # let the waiter register: no outcome exists yet

    outcomes.publish(7, "done")

    assert await asyncio.wait_for(waiting, 1) == "done"


async def test_a_waiter_that_comes_late_finds_the_remembered_outcome() -> None:
    outcomes: Outcomes[str] = Outcomes()
    outcomes.publish(7, "failed")

    assert await outcomes.wait(7) == "failed"


async def test_every_waiter_for_an_id_gets_its_outcome_and_no_other() -> None:
    outcomes: Outcomes[str] = Outcomes()
    first, second = (asyncio.ensure_future(outcomes.wait(7)) for _ in range(2))
    other = asyncio.ensure_future(outcomes.wait(8))
    await asyncio.sleep(0)

    outcomes.publish(7, "done")
    await asyncio.wait_for(asyncio.gather(first, second), 1)

    assert (first.result(), second.result()) == ("done", "done")
    assert not other.done()
    other.cancel()


async def test_a_wait_after_a_mark_skips_earlier_outcomes_and_takes_the_next() -> None:
    outcomes: Outcomes[str] = Outcomes()
    outcomes.publish(7, "failed")
    mark = outcomes.mark()
    waiting = asyncio.ensure_future(outcomes.wait(7, after=mark))
    await asyncio.sleep(0)
    assert not waiting.done()

    outcomes.publish(7, "done")

    assert await asyncio.wait_for(waiting, 1) == "done"
    assert await outcomes.wait(7, after=mark) == "done"


async def test_only_the_most_recent_outcomes_are_remembered() -> None:
    outcomes: Outcomes[int] = Outcomes(remembered=3)
    for key in range(10):
        outcomes.publish(key, key)
    outcomes.publish(7, 70)  # published again: the newest once more

    assert await outcomes.wait(7) == 70
    assert await outcomes.wait(9) == 9
    assert await outcomes.wait(8) == 8
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(outcomes.wait(6), 0.01)


async def test_a_waiter_that_gives_up_leaves_nothing_behind() -> None:
    outcomes: Outcomes[str] = Outcomes()

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(outcomes.wait(7), 0.01)

    assert outcomes._waiters == {}
