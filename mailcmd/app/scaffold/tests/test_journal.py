"""The journal through real mail: each test gets a running mailcmd on a fresh database."""

from mailcmd import MailTestClient

ALICE = "alice@app.localhost"


def test_an_entry_written_is_read_back(mailcmd_client: MailTestClient) -> None:
    mailcmd_client.add_account(ALICE)

    written = mailcmd_client.send("journal@app.localhost", "write Slept well")
    read = mailcmd_client.send("journal@app.localhost", "read")

    assert written.reply["Subject"] == "Entry 1 written"
    assert read.reply["Subject"] == "Journal: 1 entry"
    assert read.reply_text.rstrip().endswith("  Slept well")
