"""Changing messages over IMAP: STORE, EXPUNGE, COPY, MOVE, APPEND, CLOSE, UNSELECT, CHECK."""

import imaplib
import re

import pytest
from sqlalchemy import func, select

from mailcmd.db.database import open_database
from mailcmd.db.models import MailMessage
from tests.conftest import StartServer
from tests.imap_support import MESSAGE, Connect, deliver, imap_client
from tests.servers import RunningServer


@pytest.fixture
def inbox(imap_server: RunningServer, imap_connect: Connect) -> imaplib.IMAP4:
    """A client with INBOX selected, holding three messages (UIDs 1, 2, 3)."""
    for _ in range(3):
        deliver(imap_server)
    client = imap_connect()
    client.select("INBOX")
    return client


def stored_count(server: RunningServer) -> int:
    database = open_database(server.settings.database_url)
    try:
        with database.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(MailMessage)) or 0)
    finally:
        database.close()


def code(client: imaplib.IMAP4, name: str) -> str:
    """The text of the last tagged response's code `name` (imaplib keeps them)."""
    values = client.untagged_responses.pop(name, [])
    assert values, f"no [{name}] in the response"
    value = values[-1]
    assert isinstance(value, bytes)
    return value.decode()


def test_store_add_remove_and_replace_flags(inbox: imaplib.IMAP4) -> None:
    added = inbox.store("1", "+FLAGS", "(\\Flagged \\Seen)")
    removed = inbox.store("1", "-FLAGS", "\\Seen")
    replaced = inbox.store("2", "FLAGS", "(\\Answered $Label1)")
    silent = inbox.store("3", "+FLAGS.SILENT", "\\Draft")

    assert added == ("OK", [b"1 (UID 1 FLAGS (\\Flagged \\Seen))"])
    assert removed == ("OK", [b"1 (UID 1 FLAGS (\\Flagged))"])
    assert replaced == ("OK", [b"2 (UID 2 FLAGS ($Label1 \\Answered))"])
    assert silent == ("OK", [None])
    assert inbox.fetch("3", "FLAGS") == ("OK", [b"3 (FLAGS (\\Draft))"])


def test_uid_store(inbox: imaplib.IMAP4) -> None:
    typ, data = inbox.uid("STORE", "2:3", "+FLAGS", "(\\Seen)")

    assert typ == "OK"
    assert data == [b"2 (UID 2 FLAGS (\\Seen))", b"3 (UID 3 FLAGS (\\Seen))"]


def test_store_of_bad_flags_is_bad(inbox: imaplib.IMAP4) -> None:
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        inbox.store("1", "+FLAGS", "(\\Bogus)")
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        inbox.store("1", "+SOMETHING", "(\\Seen)")


def test_expunge_removes_deleted_messages_from_storage(
    imap_server: RunningServer, inbox: imaplib.IMAP4
) -> None:
    inbox.store("1,3", "+FLAGS.SILENT", "\\Deleted")

    typ, data = inbox.expunge()

    assert typ == "OK"
    assert data == [b"3", b"1"]
    assert stored_count(imap_server) == 1
    assert inbox.fetch("1", "UID") == ("OK", [b"1 (UID 2)"])


def test_uid_expunge_removes_only_the_named_deleted_messages(
    imap_server: RunningServer, inbox: imaplib.IMAP4
) -> None:
    inbox.store("1:3", "+FLAGS.SILENT", "\\Deleted")

    typ, _ = inbox.uid("EXPUNGE", "2")

    assert typ == "OK"
    assert inbox.untagged_responses.pop("EXPUNGE") == [b"2"]
    assert stored_count(imap_server) == 2


def test_uids_are_never_reused_after_expunge(
    imap_server: RunningServer, inbox: imaplib.IMAP4
) -> None:
    inbox.store("3", "+FLAGS.SILENT", "\\Deleted")
    inbox.expunge()

    uid = deliver(imap_server)

    assert uid == 4
    inbox.noop()
    assert inbox.uid("FETCH", "*", "UID")[1] == [b"3 (UID 4)"]


def test_copy_answers_copyuid_and_keeps_flags(inbox: imaplib.IMAP4) -> None:
    inbox.store("2", "+FLAGS.SILENT", "\\Flagged")

    typ, data = inbox.copy("2:3", "Archive")

    assert typ == "OK"
    match = re.fullmatch(r"\[COPYUID (\d+) 2:3 1:2\] Copied", data[0].decode())
    assert match is not None, data
    inbox.select("Archive")
    assert inbox.fetch("1:*", "FLAGS")[1] == [b"1 (FLAGS (\\Flagged))", b"2 (FLAGS ())"]


def test_copy_to_a_missing_folder_says_trycreate(inbox: imaplib.IMAP4) -> None:
    typ, data = inbox.copy("1", "Nowhere")

    assert typ == "NO"
    assert data[0].startswith(b"[TRYCREATE]")


def test_uid_copy(inbox: imaplib.IMAP4) -> None:
    typ, _ = inbox.uid("COPY", "1", "Trash")

    assert typ == "OK"
    assert re.fullmatch(r"\d+ 1 1", code(inbox, "COPYUID"))


def test_move_copies_then_expunges_the_sources(
    imap_server: RunningServer, inbox: imaplib.IMAP4
) -> None:
    typ, _ = inbox._simple_command("MOVE", "1:2", "Trash")

    assert typ == "OK"
    assert re.fullmatch(r"\d+ 1:2 1:2", code(inbox, "COPYUID"))
    assert inbox.untagged_responses.pop("EXPUNGE") == [b"2", b"1"]
    assert stored_count(imap_server) == 3
    assert inbox.fetch("1:*", "UID")[1] == [b"1 (UID 3)"]
    assert inbox.status("Trash", "(MESSAGES)")[1] == [b'"Trash" (MESSAGES 2)']


def test_uid_move(inbox: imaplib.IMAP4) -> None:
    typ, _ = inbox.uid("MOVE", "3", "Archive")

    assert typ == "OK"
    assert inbox.untagged_responses.pop("EXPUNGE") == [b"3"]


def test_append_with_flags_and_date_answers_appenduid(inbox: imaplib.IMAP4) -> None:
    typ, data = inbox.append(
        "Sent", "(\\Seen)", '"05-Nov-2026 14:30:00 +0100"', MESSAGE.replace(b"Hello", b"Sent")
    )

    assert typ == "OK"
    assert re.fullmatch(rb"\[APPENDUID \d+ 1\] Appended", data[0])
    inbox.select("Sent")
    answer = inbox.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1]
    assert answer[0][0].startswith(
        b'1 (FLAGS (\\Seen) INTERNALDATE " 5-Nov-2026 13:30:00 +0000" BODY[HEADER.FIELDS'
    )
    assert answer[0][1] == b"Subject: Sent there\r\n\r\n"


def test_append_to_the_selected_folder_is_announced(inbox: imaplib.IMAP4) -> None:
    typ, _ = inbox.append("INBOX", None, None, MESSAGE)

    assert typ == "OK"
    assert inbox.untagged_responses.pop("EXISTS")[-1] == b"4"


def test_append_to_a_missing_folder_says_trycreate(inbox: imaplib.IMAP4) -> None:
    typ, data = inbox.append("Nowhere", None, None, MESSAGE)

    assert typ == "NO"
    assert data[0].startswith(b"[TRYCREATE]")


def test_append_larger_than_the_message_size_limit_is_refused(inbox: imaplib.IMAP4) -> None:
    typ, data = inbox.append("Sent", None, None, MESSAGE + b"x" * 70_000)

    assert typ == "NO"
    assert data[0].startswith(b"[TOOBIG]")
    assert inbox.noop()[0] == "OK"


def test_append_over_quota_is_refused(start_server: StartServer) -> None:
    server = start_server(imap={"quota": len(MESSAGE) + 10})
    client = imap_client(server)
    try:
        client.login("alice@app.localhost", "correct horse battery")
        first = client.append("INBOX", None, None, MESSAGE)
        second = client.append("INBOX", None, None, MESSAGE)
    finally:
        client.logout()

    assert first[0] == "OK"
    assert second[0] == "NO"
    assert second[1][0].startswith(b"[OVERQUOTA]")


def test_getquotaroot_tells_the_use_of_the_quota(start_server: StartServer) -> None:
    server = start_server(imap={"quota": 10 * 1024})
    deliver(server)
    client = imap_client(server)
    try:
        client.login("alice@app.localhost", "correct horse battery")
        assert "QUOTA" in client.capabilities
        typ, data = client.getquotaroot("INBOX")
        refused = client.setquota('""', "(STORAGE 99999)")
    finally:
        client.logout()

    assert typ == "OK"
    assert data == [[b'"INBOX" ""'], [b'"" (STORAGE 1 10)']]
    assert refused[0] == "NO"


def test_close_expunges_silently_and_unselect_does_not(
    imap_server: RunningServer, inbox: imaplib.IMAP4
) -> None:
    inbox.store("1", "+FLAGS.SILENT", "\\Deleted")
    assert inbox.unselect()[0] == "OK"
    assert stored_count(imap_server) == 3
    inbox.select("INBOX")

    typ, _ = inbox.close()

    assert typ == "OK"
    assert "EXPUNGE" not in inbox.untagged_responses
    assert stored_count(imap_server) == 2
    with pytest.raises(imaplib.IMAP4.error):
        inbox.fetch("1", "FLAGS")


def test_check_in_the_selected_state(inbox: imaplib.IMAP4) -> None:
    assert inbox.check()[0] == "OK"
