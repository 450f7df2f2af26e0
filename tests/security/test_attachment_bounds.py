"""Attached files a hostile sender chooses cost bounded time and come back bounded in size."""

import time

from sqlalchemy import text

from mailcmd.testing import Exchange, MailTestClient
from tests.conftest import ALICE

TASKS = "tasks@app.localhost"
# The largest CSV file tasks@ takes is read, every row of it, well within this.
SECONDS = 10.0


def import_csv(mail: MailTestClient, data: bytes) -> Exchange:
    message = mail.compose(TASKS, "import", "", ALICE, None)
    message.add_attachment(data, maintype="text", subtype="csv", filename="tasks.csv")
    return mail.send(TASKS, message=message)


def task_count(mail: MailTestClient) -> int:
    with mail.database.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM tasks")).scalar_one())


def test_the_largest_csv_file_with_the_most_rows_is_refused_in_bounded_time(
    mail: MailTestClient,
) -> None:
    rows = b"title,due\n" + b"x,2030-01-01\n" * 76_000  # just under 1 MB

    started = time.monotonic()
    exchange = import_csv(mail, rows)
    elapsed = time.monotonic() - started

    assert "at most 1000 tasks in one import, got 76000" in exchange.reply_text
    assert elapsed < SECONDS
    assert task_count(mail) == 0


def test_a_huge_cell_that_does_not_fit_is_not_echoed_back_whole(mail: MailTestClient) -> None:
    exchange = import_csv(mail, b"title,due\nx," + b"9" * 100_000 + b"\n")

    assert "row 2: due: expected a date like 2026-12-01" in exchange.reply_text
    assert len(exchange.reply.as_bytes()) < 4_000
    assert task_count(mail) == 0


def test_a_cell_past_the_csv_readers_bound_is_refused_as_unreadable(mail: MailTestClient) -> None:
    exchange = import_csv(mail, b"title,due\n" + b"x" * 200_000 + b",\n")

    assert "line 2: not readable as CSV" in exchange.reply_text
    assert len(exchange.reply.as_bytes()) < 4_000
    assert task_count(mail) == 0
