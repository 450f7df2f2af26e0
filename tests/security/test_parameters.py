"""Command arguments stay inside what the database can hold: a parse error, not an apology."""

import pytest

from mailcmd.db.models import InboundMessage
from mailcmd.parsing.value_types import INT_MAX, INT_MIN
from mailcmd.testing import MailTestClient
from tests.conftest import postgres_url

TASKS = "tasks@app.localhost"


@pytest.mark.parametrize(
    "number", [str(INT_MAX + 1), str(INT_MIN - 1), "9" * 25, "1" * 5000, "-" + "9" * 25]
)
def test_integer_argument_past_64_bits_is_refused_in_one_attempt_without_retries(
    mail: MailTestClient, number: str
) -> None:
    exchange = mail.send(TASKS, f"done {number}")

    # One attempt, a refusal that names the parameter: no retries, no apology.
    assert exchange.outcome is not None
    assert exchange.outcome.status == "done"
    assert "TASK_IDS: expected a whole number like 42" in exchange.reply_text
    assert "ref=" not in exchange.reply_text


def test_integer_argument_at_the_64_bit_limits_is_read(mail: MailTestClient) -> None:
    for number in (INT_MAX, INT_MIN):
        exchange = mail.send(TASKS, f"done {number}")

        assert exchange.outcome is not None
        assert exchange.outcome.status == "done"
        assert "expected a whole number" not in exchange.reply_text


@pytest.mark.skipif(postgres_url() is None, reason="SQLite's columns take any integer")
def test_a_value_the_database_cannot_hold_fails_in_one_attempt_with_one_apology(
    lab: MailTestClient,
) -> None:
    exchange = lab.send("lab@app.localhost", "overflow 70000")

    # Retrying a data error would fail the same way: one attempt, one apology.
    assert exchange.outcome is not None
    assert exchange.outcome.status == "failed"
    with lab.database.sessions() as session:
        row = session.get(InboundMessage, exchange.queue_id)
        assert row is not None
        assert row.attempts == 1
    replies = lab.replies_to(exchange.queue_id or 0)
    assert len(replies) == 1
    assert replies[0]["Subject"] == "Sorry, your message could not be processed"
