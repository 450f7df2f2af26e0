"""A mistake in an app's folder is the operator's to read: the commands still run and answer."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mailcmd import MailTestClient
from mailcmd.db.models import MailFolder
from tests.conftest import ALICE, PASSWORD
from tests.servers import wait_until

BROKEN = Path(__file__).parents[1] / "apps" / "brokenfolder"


@pytest.fixture
def broken(database_url: str, tmp_path: Path) -> Iterator[MailTestClient]:
    """The app whose folder's function fails, with alice."""
    with MailTestClient(
        BROKEN / "commands",
        tmp_path / "broken",
        database_url=database_url,
        templates=BROKEN / "templates",
    ) as client:
        client.add_account(ALICE, password=PASSWORD)
        yield client


def test_a_failing_folder_function_leaves_the_command_answered_and_logs_why(
    broken: MailTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="mailcmd.runtime.folder_views"):
        exchange = broken.send("box@app.localhost", "go", login=ALICE)

    assert exchange.reply_text.strip() == "It went."
    # The folders are synced once the command's transaction has committed.
    [record] = wait_until(
        lambda: [r for r in caplog.records if r.name == "mailcmd.runtime.folder_views"],
        "the folder's failure logged",
    )
    assert record.getMessage().startswith("app folders of account ")
    assert record.exc_info is not None
    assert "no things here" in str(record.exc_info[1])
    with broken.database.sessions() as session:
        # The savepoint undid the sync alone: no half-made folder is left behind.
        kept = select(MailFolder.name).where(MailFolder.kept_by.is_not(None))
        assert session.scalars(kept).all() == []
