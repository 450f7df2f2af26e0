"""The mailbox server's bounds: no one IMAP client can stall the server, bloat it or misname.

Each test pins a number: seconds another client waits for its greeting, bytes the
server reads before refusing, folders an account may hold, bytes a quota allows.
"""

import imaplib
import smtplib
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import insert

from mailcmd.db.database import open_database
from mailcmd.db.models import Base, MailFolder
from mailcmd.mailstore import local_account_id, new_uid_validity
from tests.conftest import ALICE, PASSWORD, StartServer
from tests.imap_support import MESSAGE, imap_client, raw_imap
from tests.servers import TIMEOUT, RunningServer

LOGIN = b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode())
MAX_FOLDERS = 12
# The figures a hostile client must not push past.
GREETING_SECONDS = 1.0
MAX_MESSAGE_SIZE = 65536
LINE_LIMIT = 4096


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:
    """A server (no worker) with small IMAP limits: 12 folders, 64 KiB messages."""
    return start_server(
        max_message_size=MAX_MESSAGE_SIZE,
        imap={"max_line_length": LINE_LIMIT, "max_folders": MAX_FOLDERS, "quota": 200_000},
    )


@pytest.fixture
def alice(server: RunningServer) -> Iterator[imaplib.IMAP4]:
    """Alice logged in over implicit TLS with imaplib."""
    client = imap_client(server)
    client.login(ALICE, PASSWORD)
    yield client
    client.shutdown()


def greeting_seconds(server: RunningServer) -> float:
    """How long a new SMTP and a new IMAP client each wait for the greeting, the longer."""
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=TIMEOUT) as smtp:
        smtp_waited = time.monotonic() - started
        started = time.monotonic()
        with raw_imap(server.port("imaps"), server.tls_client_context) as imap:
            assert imap.greeting.startswith(b"* OK")
            imap_waited = time.monotonic() - started
        smtp.quit()
    return max(smtp_waited, imap_waited)


def test_list_with_100_stars_answers_at_once_and_others_are_greeted(
    server: RunningServer,
) -> None:
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        client.command(b"a1", LOGIN)
        started = time.monotonic()
        client.send(b'a2 LIST "" "' + b"*" * 100 + b'Y"\r\n')
        waited = greeting_seconds(server)
        answer = client.until_tagged(b"a2")
        listed = time.monotonic() - started
        client.send(b'a3 LIST "" "' + b"*a%" * 100 + b'Y"\r\n')
        mixed = client.until_tagged(b"a3")
        client.send(b'a4 LIST "" "' + b"*" * 2000 + b'"\r\n')
        too_long = client.until_tagged(b"a4")
        found = client.command(b"a5", b'LIST "" "' + b"*" * 100 + b'X"')

    assert waited < GREETING_SECONDS
    assert listed < GREETING_SECONDS
    assert answer == [b"a2 OK Completed"]
    assert mixed == [b"a3 OK Completed"]
    assert too_long[-1].startswith(b"a4 BAD")
    assert found == [b'* LIST (\\HasNoChildren) "/" "INBOX"', b"a5 OK Completed"]


def test_listing_ten_thousand_folders_leaves_other_clients_greeted(
    start_server: StartServer,
) -> None:
    server = start_server(imap={"max_folders": 10_010})
    database = open_database(server.settings.database_url)
    try:
        with database.writing() as session, session.begin():
            account_id = local_account_id(session, ALICE)
            session.execute(
                insert(Base.metadata.tables[MailFolder.__tablename__]),
                [
                    {
                        "account_id": account_id,
                        "name": f"Projects/{n // 100}/{n}",
                        "subscribed": True,
                        "uid_validity": new_uid_validity(),
                        "uid_next": 1,
                    }
                    for n in range(10_000)
                ],
            )
    finally:
        database.close()
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        client.command(b"a1", LOGIN)
        started = time.monotonic()
        client.send(b'a2 LIST "" "*"\r\n')
        waited = greeting_seconds(server)
        answer = client.until_tagged(b"a2")
        listed = time.monotonic() - started

    assert waited < GREETING_SECONDS
    assert listed < 10 * GREETING_SECONDS
    assert answer[-1] == b"a2 OK Completed"
    assert len(answer) == 6 + 10_000 + 1
    assert b'* LIST (\\HasNoChildren) "/" "Projects/7/750"' in answer


def test_create_over_the_folder_limit_gets_no_limit(
    server: RunningServer, alice: imaplib.IMAP4
) -> None:
    # Six default folders; three levels make three more, three single ones fill it.
    assert alice.create("a/b/c")[0] == "OK"
    for name in ("d", "e", "f"):
        assert alice.create(name)[0] == "OK"
    over = alice.create("g")
    nested_over = alice.create("d/x")

    assert over[0] == "NO"
    assert over[1][0].startswith(b"[LIMIT]")
    assert nested_over[0] == "NO"
    listed = alice.list()[1]
    assert len(listed) == MAX_FOLDERS
    assert alice.delete("f")[0] == "OK"
    assert alice.create("g")[0] == "OK"


@pytest.mark.parametrize(
    "name",
    [
        b'"a*b"',
        b'"a%b"',
        b'"Inbox%"',
        b"{3}\r\na\x01b",
        b"{3}\r\na\x7fb",
        b'"a//b"',
        b'"/a"',
        b'"&Jjo"',  # a shift that never ends
        b'"&AGE-"',  # "a" shifted: ASCII must stand for itself
        b'"&Jjo-&ZeU-"',  # two shifts in a row: not the one spelling
        b'"&2D3-"',  # half a surrogate pair
        b'"&AAE-"',  # a control character, shifted
        b"{6}\r\ncaf\xc3\xa9",  # 8-bit: names travel as modified UTF-7
        b'"' + b"x" * 256 + b'"',
    ],
)
def test_bad_mailbox_names_are_refused(server: RunningServer, name: bytes) -> None:
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        client.command(b"a1", LOGIN)
        created = client.command(b"a2", b"CREATE " + name)
        renamed = client.command(b"a3", b"RENAME Archive " + name)
        client.command(b"a4", b"CREATE Spare")
        spare = client.command(b"a5", b"RENAME Spare " + name)
        folders = client.command(b"a6", b'LIST "" "*"')

    assert created[-1].startswith(b"a2 NO [CANNOT]")
    assert renamed[-1].startswith(b"a3 NO [CANNOT]")
    assert spare[-1].startswith(b"a5 NO [CANNOT]")
    assert len(folders) == 1 + 6 + 1


def test_good_modified_utf7_names_are_accepted(alice: imaplib.IMAP4) -> None:
    assert alice.create("&ZeVnLIqe-")[0] == "OK"  # 日本語
    assert alice.create('"Tom &- Jerry"')[0] == "OK"
    assert alice.select("&ZeVnLIqe-")[0] == "OK"


def test_inbox_is_case_insensitive_in_every_command(
    server: RunningServer, alice: imaplib.IMAP4
) -> None:
    assert alice.create("inbox/child")[0] == "OK"
    assert alice.create("INBOX/child")[0] == "NO"
    listed = alice.list('""', "iNbOx/*")[1]
    assert listed == [b'(\\HasNoChildren) "/" "INBOX/child"']
    assert alice.append("Inbox/child", None, None, MESSAGE)[0] == "OK"
    assert alice.status("inBox/child", "(MESSAGES)")[1] == [b'"INBOX/child" (MESSAGES 1)']
    assert alice.select("INBOX/child")[0] == "OK"
    assert alice.subscribe("inbox/CHILD")[0] == "NO"
    assert alice.rename("inbox/child", "Inbox/kid")[0] == "OK"
    assert alice.select("INBOX/kid")[0] == "OK"
    assert alice.copy("1", "inbox")[0] == "OK"
    assert alice.delete("inbox/kid")[0] == "OK"
    assert "INBOX" in str(alice.list('""', "inb%")[1])
