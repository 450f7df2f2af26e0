"""notes@ through real mail, and the row it leaves in the app's own table."""

from sqlalchemy import text

from mailcmd import MailTestClient


def test_add_keeps_a_note_for_the_account_that_sent_it(mailcmd_client: MailTestClient) -> None:
    mailcmd_client.add_account("alice@app.localhost")

    exchange = mailcmd_client.send("notes@app.localhost", "add Call the plumber")

    assert exchange.reply["Subject"] == "Note 1 added: Call the plumber"
    with mailcmd_client.database.sessions() as session:
        rows = session.execute(
            text("SELECT login, text FROM notes JOIN accounts ON accounts.id = notes.owner_id")
        ).all()
    assert [tuple(row) for row in rows] == [("alice@app.localhost", "Call the plumber")]
