"""Folders stored as `inbox/...` before INBOX became case-insensitive are reachable again.

The upgrade renames each to its `INBOX/...` spelling, or merges it into the folder that
already has that name; the count pinned is every stored message, reachable by IMAP.
"""

import imaplib
import re

from alembic.script import ScriptDirectory
from sqlalchemy import func, insert, select

from mailcmd.app.resources import bundled_path
from mailcmd.db import migrations
from mailcmd.db.engine import open_engine
from mailcmd.db.models import AccountAddress, Base, MailFolder, MailMessage
from mailcmd.imap.mailstore import DEFAULT_FOLDERS
from tests.conftest import ALICE, PASSWORD, Cli, StartServer
from tests.imap_support import imap_client

# The revision that brings such folders home, and the one before it.
INBOX_SPELLINGS = "6195338f70ad"
PREVIOUS_HEAD = (
    ScriptDirectory(str(bundled_path("migrations"))).get_revision(INBOX_SPELLINGS).down_revision
)
UID_VALIDITY = 777
# What an account held at that head: each folder and the subjects of its messages.
STORED = {
    "INBOX": ["inbox 1"],
    "Inbox": ["inbox 2"],
    "INBOX/Work": ["work 1"],
    "inbox/Work": ["work 2", "work 3"],
    "Inbox/Work": ["work 4"],
    "inbox/Solo": ["solo 1"],
    "iNbOx/Solo/Deep": ["deep 1", "deep 2"],
    "Inboxes": ["not INBOX"],
}


def store_at_previous_head(database_url: str) -> None:
    """Take the schema back one revision and store `STORED` for alice as it stood then."""
    folders = Base.metadata.tables[MailFolder.__tablename__]
    messages = Base.metadata.tables[MailMessage.__tablename__]
    engine = open_engine(database_url)
    try:
        assert isinstance(PREVIOUS_HEAD, str)
        migrations.downgrade(engine, PREVIOUS_HEAD)
        with engine.begin() as connection:
            account_id = connection.scalar(
                select(AccountAddress.account_id).where(AccountAddress.address == ALICE)
            )
            for name, subjects in STORED.items():
                folder_id = connection.scalar(
                    insert(folders)
                    .values(
                        account_id=account_id,
                        name=name,
                        subscribed=True,
                        uid_validity=UID_VALIDITY,
                        # A gap, as expunged messages leave one.
                        uid_next=2 * len(subjects) + 1,
                    )
                    .returning(folders.c.id)
                )
                for number, subject in enumerate(subjects, start=1):
                    raw = f"Subject: {subject}\r\n\r\n{subject}\r\n".encode()
                    connection.execute(
                        insert(messages).values(
                            folder_id=folder_id, uid=2 * number, flags=[], size=len(raw), raw=raw
                        )
                    )
        migrations.upgrade(engine)
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(messages)) == 10
    finally:
        engine.dispose()


def subjects_by_uid(client: imaplib.IMAP4) -> dict[int, str]:
    """The selected folder's messages: UID to subject."""
    status, data = client.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert status == "OK"
    found = {}
    for item in data:
        if isinstance(item, tuple):
            uid = re.search(rb"UID (\d+)", item[0])
            assert uid is not None
            found[int(uid.group(1))] = item[1].decode().strip().removeprefix("Subject: ")
    return found


def test_inbox_folders_of_any_spelling_are_reachable_after_upgrading(
    accounts: Cli, database_url: str, start_server: StartServer
) -> None:
    store_at_previous_head(database_url)
    server = start_server()
    client = imap_client(server)
    try:
        client.login(ALICE, PASSWORD)
        listed = client.list('""', "*")[1]
        names = sorted(line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in listed)
        reachable = {}
        for name in names:
            assert client.select(f'"{name}"')[0] == "OK"
            reachable[name] = subjects_by_uid(client)
        uid_next = client.status("INBOX/Work", "(UIDNEXT UIDVALIDITY)")[1][0]
        appended = client.append("INBOX/Work", None, None, b"Subject: work 5\r\n\r\nhi\r\n")
    finally:
        client.shutdown()

    # (Tasks and Tasks/Done are the bundled app's folders, empty: alice has no tasks.)
    assert names == sorted(
        {"INBOX/Work", "INBOX/Solo", "INBOX/Solo/Deep", "Inboxes", "Tasks", "Tasks/Done"}
        | set(DEFAULT_FOLDERS)
    )
    # INBOX/Work keeps its UIDs and UIDVALIDITY; the merged messages come after them.
    # Spellings merge in code-point order: `Inbox/Work`, then `inbox/Work`.
    assert reachable["INBOX/Work"] == {2: "work 1", 3: "work 4", 4: "work 2", 6: "work 3"}
    assert uid_next == b'"INBOX/Work" (UIDNEXT 7 UIDVALIDITY 777)'
    assert b"[APPENDUID 777 7]" in appended[1][0]
    assert reachable["INBOX"] == {2: "inbox 1", 3: "inbox 2"}
    assert reachable["INBOX/Solo"] == {2: "solo 1"}
    assert reachable["INBOX/Solo/Deep"] == {2: "deep 1", 4: "deep 2"}
    assert reachable["Inboxes"] == {2: "not INBOX"}
    every_subject = [s for subjects in STORED.values() for s in subjects]
    assert sorted(s for found in reachable.values() for s in found.values()) == sorted(
        every_subject
    )
