"""Folders over IMAP: LIST with special-use flags, CREATE/DELETE/RENAME, SELECT, STATUS."""

import imaplib
import re

import pytest

from tests.imap_support import MESSAGE, Connect, deliver
from tests.servers import RunningServer


def listed(client: imaplib.IMAP4, *args: str) -> dict[str, str]:
    """LIST's answer as folder name → attributes."""
    typ, data = client.list(*args)
    assert typ == "OK"
    found = {}
    for line in data:
        if line is None:
            continue
        assert isinstance(line, bytes)
        match = re.fullmatch(rb'\(([^)]*)\) "/" (.+)', line)
        assert match is not None, line
        found[match.group(2).decode().strip('"')] = match.group(1).decode()
    return found


def test_list_shows_the_default_folders_with_special_use_flags(imap_connect: Connect) -> None:
    client = imap_connect()

    folders = listed(client)

    # With the bundled tasks app's own folders (see test_app_folders.py).
    assert set(folders) == {
        "INBOX",
        "Sent",
        "Drafts",
        "Trash",
        "Junk",
        "Archive",
        "Tasks",
        "Tasks/Done",
    }
    assert "\\Sent" in folders["Sent"]
    assert "\\Drafts" in folders["Drafts"]
    assert "\\Trash" in folders["Trash"]
    assert "\\Junk" in folders["Junk"]
    assert "\\Archive" in folders["Archive"]
    assert "\\HasNoChildren" in folders["INBOX"]


def test_list_delimiter_query_and_patterns(imap_connect: Connect) -> None:
    client = imap_connect()
    client.create("Projects/2026")

    _typ, data = client.list('""', '""')
    assert data == [b'(\\Noselect) "/" ""']
    assert set(listed(client, '""', "%")) == {
        "INBOX",
        "Sent",
        "Drafts",
        "Trash",
        "Junk",
        "Archive",
        "Tasks",
        "Projects",
    }
    assert set(listed(client, "Projects/", "*")) == {"Projects/2026"}
    assert "\\HasChildren" in listed(client)["Tasks"]
    assert "\\HasChildren" in listed(client)["Projects"]
    assert set(listed(client, '""', "inbox")) == {"INBOX"}


def test_list_special_use_selection_option(imap_connect: Connect) -> None:
    client = imap_connect()
    client.create("Projects")

    typ, _data = client._simple_command("LIST", "(SPECIAL-USE)", '""', "*")
    lines = client.untagged_responses.pop("LIST", [])

    assert typ == "OK"
    assert len(lines) == 5
    assert not any(b"Projects" in line for line in lines if isinstance(line, bytes))


def test_create_rename_delete(imap_connect: Connect) -> None:
    client = imap_connect()

    assert client.create("Work")[0] == "OK"
    assert client.create("Work")[0] == "NO"
    assert client.create("Work/Old")[0] == "OK"
    assert client.rename("Work", "Job")[0] == "OK"
    assert {"Job", "Job/Old"} <= set(listed(client))
    assert "Work" not in listed(client)
    assert client.delete("Job")[0] == "NO"  # it has a folder inside
    assert client.delete("Job/Old")[0] == "OK"
    assert client.delete("Job")[0] == "OK"
    assert client.delete("Job")[0] == "NO"
    assert client.delete("INBOX")[0] == "NO"
    assert client.delete("Sent")[0] == "NO"
    assert client.rename("Sent", "Elsewhere")[0] == "NO"


def test_subscribe_and_lsub(imap_connect: Connect) -> None:
    client = imap_connect()
    client.create("Lists")

    assert client.unsubscribe("Lists")[0] == "OK"
    _typ, data = client.lsub()
    names = [line.decode() for line in data if isinstance(line, bytes)]
    assert not any("Lists" in name for name in names)
    assert any("INBOX" in name for name in names)
    assert client.subscribe("Lists")[0] == "OK"
    _typ, data = client.lsub('""', "Lists")
    assert data == [b'(\\HasNoChildren) "/" "Lists"']
    assert client.subscribe("Nowhere")[0] == "NO"


def test_select_reports_counts_and_uids(imap_server: RunningServer, imap_connect: Connect) -> None:
    deliver(imap_server)
    deliver(imap_server)
    client = imap_connect()

    typ, data = client.select("INBOX")

    assert typ == "OK"
    assert data == [b"2"]
    responses = client.untagged_responses
    assert responses["RECENT"] == [b"0"]
    assert int(responses["UIDVALIDITY"][0]) > 0
    assert responses["UIDNEXT"] == [b"3"]
    assert responses["UNSEEN"] == [b"1"]
    assert b"\\Seen" in responses["FLAGS"][0]
    assert b"\\*" in responses["PERMANENTFLAGS"][0]
    assert client.untagged_responses["READ-WRITE"] == [b""]


def test_uidvalidity_is_stable_across_sessions(imap_connect: Connect) -> None:
    first = imap_connect()
    first.select("INBOX")
    validity = first.untagged_responses["UIDVALIDITY"]
    second = imap_connect()
    second.select("inbox")

    assert second.untagged_responses["UIDVALIDITY"] == validity


def test_examine_is_read_only(imap_server: RunningServer, imap_connect: Connect) -> None:
    deliver(imap_server)
    client = imap_connect()

    typ, data = client.select("INBOX", readonly=True)

    assert typ == "OK"
    assert client.untagged_responses["PERMANENTFLAGS"] == [b"()"]
    typ, data = client.store("1", "+FLAGS", "\\Seen")
    assert typ == "NO"
    assert b"READ-ONLY" in data[0]


def test_select_unknown_folder_is_refused(imap_connect: Connect) -> None:
    client = imap_connect()

    typ, _data = client.select("Nowhere")

    assert typ == "NO"
    assert client.state == "AUTH"


def test_status_counts_without_selecting(imap_server: RunningServer, imap_connect: Connect) -> None:
    deliver(imap_server)
    deliver(imap_server, MESSAGE)
    client = imap_connect()

    typ, data = client.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)")

    assert typ == "OK"
    text = data[0].decode()
    assert "MESSAGES 2" in text
    assert "UNSEEN 2" in text
    assert "UIDNEXT 3" in text
    assert client.status("Nowhere", "(MESSAGES)")[0] == "NO"
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        client.status("INBOX", "(BOGUS)")
