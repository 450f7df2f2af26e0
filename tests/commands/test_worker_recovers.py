"""A worker whose claim fails (the queue out of reach for a moment) says so and carries on."""

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from mailcmd.app.resources import bundled_path
from mailcmd.db.models import InboundMessage
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE
from tests.servers import wait_until

QUEUE = InboundMessage.__tablename__


def rename_table(mail: MailTestClient, old: str, new: str) -> None:
    with mail.database.engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_a_worker_whose_claims_fail_for_a_moment_logs_them_and_carries_on(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="mailcmd.runtime.worker")
    with MailTestClient(
        bundled_path("commands"),
        tmp_path / "state",
        database_url=database_url,
        settings={"worker": {"poll_seconds": 0.05}},
    ) as mail:
        mail.add_account(ALICE)
        # The queue's table goes away under the running worker, as a real fault
        # would take it out of reach: its claims fail with the database's error.
        rename_table(mail, QUEUE, f"{QUEUE}_away")
        try:
            failures = wait_until(
                lambda: [
                    record
                    for record in caplog.records
                    if record.getMessage().startswith("claiming messages failed (reference ")
                ][1:],
                "two failed claims logged",
            )
        finally:
            rename_table(mail, f"{QUEUE}_away", QUEUE)

        exchange = mail.send("tasks@app.localhost", "add Buy milk")

    assert exchange.code == 250
    assert "Buy milk" in exchange.reply_text
    assert all(record.exc_info is not None for record in failures)
