"""The test client an app author uses, with settings of their own."""

from pathlib import Path

from mailcmd.app.resources import bundled_path
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE


def test_an_smtp_table_in_the_settings_replaces_the_clients_own(
    database_url: str, tmp_path: Path
) -> None:
    smtp = {"host": "127.0.0.1", "smtps_port": 0, "mx_port": 0, "max_message_size": 4000}
    with MailTestClient(
        bundled_path("commands"), tmp_path, database_url=database_url, settings={"smtp": smtp}
    ) as mail:
        mail.add_account(ALICE)

        small = mail.send("tasks@app.localhost", "add Buy milk")
        large = mail.send("tasks@app.localhost", "add Buy milk", "x" * 5000)

    assert small.code == 250
    assert large.code == 552
