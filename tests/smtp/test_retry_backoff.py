"""Both queues wait alike before a retry: a handler that fails and a relay that says 4xx."""

import logging
import re
from typing import Any

import pytest

from mailcmd.testing import MailTestClient
from tests.servers import TIMEOUT, Sink

STRANGER = "someone@example.org"
GREYLISTED = "451 4.7.1 greylisted, try again"
# The first delay of both queues: every delay after it follows from it.
FIRST_DELAY = 0.05
WORKER_RETRY = re.compile(r"message \d+: deferred ref=\w+, retry in (\S+) s")
RELAY_RETRY = re.compile(
    r"outbound \d+ by relay, attempt \d+: deferred, reply code 451 \(.*\), retry in (\S+) s"
)


@pytest.fixture
def lab_settings(sink: tuple[Sink, int]) -> dict[str, Any]:
    _, port = sink
    return {
        "worker": {
            "max_attempts": 3,
            "retry_seconds": FIRST_DELAY,
            "handler_timeout": 2.0,
            "poll_seconds": 0.05,
        },
        "relay": {
            "host": "127.0.0.1",
            "port": port,
            "starttls": "off",
            "retry_seconds": FIRST_DELAY,
        },
    }


def retry_delays(caplog: pytest.LogCaptureFixture, line: re.Pattern[str]) -> list[float]:
    found = (line.fullmatch(record.getMessage()) for record in caplog.records)
    return [float(match[1]) for match in found if match]


def test_a_failing_handler_and_a_relay_that_refuses_for_now_retry_after_the_same_delays(
    lab: MailTestClient, sink: tuple[Sink, int], caplog: pytest.LogCaptureFixture
) -> None:
    relay, _ = sink
    relay.answers = [GREYLISTED, GREYLISTED]
    caplog.set_level(logging.INFO, logger="mailcmd")

    crashed = lab.send("lab@app.localhost", "crash")
    answered = lab.send("public@app.localhost", "ping", login="", sender=STRANGER)
    # Accepted at the third attempt: the two deferred ones were recorded before it.
    assert relay.arrived.wait(TIMEOUT)

    assert crashed.outcome is not None
    assert crashed.outcome.status == "failed"
    assert answered.code == 250
    assert retry_delays(caplog, WORKER_RETRY) == [FIRST_DELAY, 2 * FIRST_DELAY]
    assert retry_delays(caplog, RELAY_RETRY) == [FIRST_DELAY, 2 * FIRST_DELAY]
