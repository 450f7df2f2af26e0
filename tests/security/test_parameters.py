"""Command arguments stay inside what the database can hold: a parse error, not an apology."""

import pytest

from mailcmd.parsing.value_types import INT_MAX, INT_MIN
from mailcmd.testing import MailTestClient

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
