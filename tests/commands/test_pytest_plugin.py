"""The pytest plugin an app author gets with mailcmd: the `mailcmd_client` fixture."""

from mailcmd.testing import MailTestClient


def test_mailcmd_client_runs_the_bundled_app(mailcmd_client: MailTestClient) -> None:
    mailcmd_client.add_account("alice@app.localhost")

    exchange = mailcmd_client.send("tasks@app.localhost", "add Try the plugin")

    assert exchange.code == 250
    assert exchange.reply["Subject"] == "Task 1 added: Try the plugin"
