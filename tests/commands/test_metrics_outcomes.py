"""Each way a message can end is counted under its own outcome, once its attempt commits."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailcmd.operations.metrics.instruments import REGISTRY
from mailcmd.testing import MailTestClient
from tests.conftest import LAB_COMMANDS, LAB_TEMPLATES
from tests.servers import Sink, wait_until

LAB = "lab@app.localhost"
PROCESSED = "mailcmd_messages_processed_total"


@pytest.fixture
def lab_settings() -> dict[str, Any]:
    """conftest's, with one reply an hour to a stranger."""
    worker = {"max_attempts": 2, "retry_seconds": 0.05, "handler_timeout": 2.0}
    return {"worker": {**worker, "reply_rate_limit": 1}}


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def growth(act: Callable[[], object], name: str, **labels: str) -> float:
    before = counted(name, **labels)
    act()
    return counted(name, **labels) - before


@pytest.mark.parametrize(
    ("subject", "headers", "outcome"),
    [
        ("echo --words hello", {}, "done"),
        ("refuse this", {}, "refused"),
        ("no-such-verb", {}, "refused"),
        ("echo --words hello", {"Auto-Submitted": "auto-generated"}, "ignored"),
    ],
)
def test_a_message_is_counted_under_how_it_ended(
    lab: MailTestClient, subject: str, headers: dict[str, str], outcome: str
) -> None:
    assert growth(lambda: lab.send(LAB, subject, headers=headers), PROCESSED, outcome=outcome) == 1


def test_a_handler_that_crashes_is_retried_then_failed(lab: MailTestClient) -> None:
    retried = counted(PROCESSED, outcome="retried")

    failed = growth(lambda: lab.send(LAB, "crash"), PROCESSED, outcome="failed")

    # lab_settings: two attempts.
    assert (failed, counted(PROCESSED, outcome="retried") - retried) == (1, 1)


def test_the_handler_duration_is_observed_by_mailbox_and_verb(lab: MailTestClient) -> None:
    name = "mailcmd_handler_duration_seconds_count"

    assert growth(lambda: lab.send(LAB, "echo --words hi"), name, mailbox="lab", verb="echo") == 1


def test_a_reply_held_back_by_the_hourly_limit_is_counted(lab: MailTestClient) -> None:
    def ping() -> None:
        lab.send("public@app.localhost", "ping", login="", sender="stranger@example.org")

    first = growth(ping, "mailcmd_mails_held_back_total", kind="reply")
    second = growth(ping, "mailcmd_mails_held_back_total", kind="reply")

    assert (first, second) == (0, 1)


def test_relay_deliveries_are_counted_by_result(
    sink: tuple[Sink, int], database_url: str, tmp_path: Path
) -> None:
    relay, port = sink
    relay.answers = ["550 5.1.1 no such user"]
    name = "mailcmd_relay_deliveries_total"
    before = {result: counted(name, result=result) for result in ("sent", "permanent")}

    def grew(result: str) -> float:
        return counted(name, result=result) - before[result]

    with MailTestClient(
        LAB_COMMANDS,
        tmp_path / "lab",
        database_url=database_url,
        templates=LAB_TEMPLATES,
        settings={"relay": {"host": "127.0.0.1", "port": port, "starttls": "off"}},
    ) as lab:
        # Strangers' replies leave through the relay: the first is refused, the second taken.
        for stranger, result in (("gone@example.org", "permanent"), ("here@example.org", "sent")):
            lab.send("public@app.localhost", "ping", login="", sender=stranger)
            wait_until(lambda result=result: grew(result) > 0, f"a delivery counted {result}")

    assert (grew("permanent"), grew("sent")) == (1, 1)
