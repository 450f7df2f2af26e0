"""The mailbox server's bounds: no one IMAP client can stall the server, bloat it or misname.

Each test pins a number: seconds another client waits for its greeting, bytes the
server reads before refusing, folders an account may hold, bytes a quota allows.
"""

import imaplib
import smtplib
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import insert

from mailcmd.db.database import open_database
from mailcmd.db.models import Base, MailFolder
from mailcmd.imap import command_loop, connection, fetch_items, mime, searching, structure
from mailcmd.imap.mailstore import local_account_id, new_uid_validity
from mailcmd.settings import Settings
from tests.conftest import ALICE, PASSWORD, StartServer
from tests.imap_support import MESSAGE, deliver, imap_client, raw_imap
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
    # The six default folders, the tasks app's two, the ten thousand, the tagged OK.
    assert len(answer) == 6 + 2 + 10_000 + 1
    assert b'* LIST (\\HasNoChildren) "/" "Projects/7/750"' in answer


def test_create_over_the_folder_limit_gets_no_limit(
    server: RunningServer, alice: imaplib.IMAP4
) -> None:
    # Six default folders and the tasks app's two (Tasks, Tasks/Done); three levels
    # make three more, one single one fills it.
    assert alice.create("a/b/c")[0] == "OK"
    assert alice.create("f")[0] == "OK"
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
    # Spare, the six default folders, the tasks app's two, the tagged OK: nothing else.
    assert len(folders) == 1 + 6 + 2 + 1


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


def test_before_login_a_literal_longer_than_a_line_is_refused_unread(
    server: RunningServer,
) -> None:
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        client.send(b"a1 APPEND INBOX {%d}\r\n" % (MAX_MESSAGE_SIZE - 100))
        append = client.until_tagged(b"a1")
        client.send(b"a2 LOGIN {%d}\r\n" % (LINE_LIMIT + 1))
        login = client.until_tagged(b"a2")
        after = client.command(b"a3", b"NOOP")
        # A literal that fits in a line is still read: a password may need one.
        client.send(b"a4 LOGIN {%d}\r\n" % len(ALICE))
        ready = client.line()
        client.send(ALICE.encode() + b' "%s"\r\n' % PASSWORD.encode())
        logged_in = client.until_tagged(b"a4")

    assert append == [b"a1 BAD literal too large"]
    assert login == [b"a2 BAD literal too large"]
    assert after == [b"a3 OK Completed"]
    assert ready.startswith(b"+ ")
    assert logged_in[-1].startswith(b"a4 OK")


def test_before_login_a_non_synchronising_literal_over_4096_bytes_ends_the_connection(
    server: RunningServer,
) -> None:
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        client.send(b"a1 LOGIN {4097+}\r\n" + b"x" * 4097 + b" y\r\n")

        assert client.line() == b"* BYE [TOOBIG] Literal too large"
        assert client.closed_by_server()


def test_literals_in_flight_are_bounded_across_connections(start_server: StartServer) -> None:
    # Room for one message of 40 KB in flight, not two.
    server = start_server(max_message_size=MAX_MESSAGE_SIZE, imap={"max_literal_memory": 60_000})
    message = MESSAGE + b"x" * (40_000 - len(MESSAGE))
    with (
        raw_imap(server.port("imaps"), server.tls_client_context) as first,
        raw_imap(server.port("imaps"), server.tls_client_context) as second,
    ):
        first.command(b"a1", LOGIN)
        second.command(b"b1", LOGIN)
        first.send(b"a2 APPEND INBOX {%d}\r\n" % len(message))
        assert first.line().startswith(b"+ ")
        second.send(b"b2 APPEND INBOX {%d}\r\n" % len(message))
        refused = second.until_tagged(b"b2")
        first.send(message + b"\r\n")
        appended = first.until_tagged(b"a2")
        # The first command has run; its bytes count no more once it reads the next.
        first.command(b"a3", b"NOOP")
        second.send(b"b3 APPEND INBOX {%d}\r\n" % len(message))
        ready = second.line()
        second.send(message + b"\r\n")
        second_appended = second.until_tagged(b"b3")

    assert refused == [b"b2 NO [UNAVAILABLE] server busy, try again later"]
    assert appended[-1].startswith(b"a2 OK [APPENDUID")
    assert ready.startswith(b"+ ")
    assert second_appended[-1].startswith(b"b3 OK [APPENDUID")


def test_copy_into_the_same_folder_stops_at_the_quota(
    server: RunningServer, alice: imaplib.IMAP4
) -> None:
    deliver(server, MESSAGE + b"x" * (30_000 - len(MESSAGE)))
    alice.select("INBOX")
    answers = []
    for _ in range(4):
        answers.append(alice.copy("1:*", "INBOX")[0])
        alice.noop()  # where a client learns of the copies, so that 1:* takes them too
    quota = alice.getquotaroot("INBOX")[1][1][0]
    alice.noop()
    messages = alice.select("INBOX")[1][0]

    # 30 kB, then 60, 120: a fourth copy of 120 kB would pass 200 kB.
    assert answers == ["OK", "OK", "NO", "NO"]
    assert quota == b'"" (STORAGE 118 195)'
    assert messages == b"4"


def test_a_quota_is_on_by_default() -> None:
    assert Settings().imap.quota == 1024**3


# Every regular expression of the mailbox server that reads what a client sends, with
# the input that makes a backtracking engine work hardest, one command line long
# (or one message long for the MIME boundary).
HOSTILE_INPUTS = [
    (fetch_items._SECTION.fullmatch, "BODY[" + "]<1.1" * 13_000 + "x"),
    (fetch_items._SECTION_TEXT.fullmatch, "1." * 32_000 + "X"),
    (searching._DATE.fullmatch, "1" * 65_000),
    (structure._FOLD.sub, "", "\r\n" * 32_000),
    (mime._HEADER_END.search, b"\r\n\r" * 20_000),
    (connection._LITERAL_AT_END.search, b"{1" * 32_000 + b"\n"),
    (command_loop._TAG.fullmatch, "a" * 65_000),
]


@pytest.mark.parametrize(("operation", "arguments"), [(h[0], h[1:]) for h in HOSTILE_INPUTS])
def test_regular_expressions_on_client_input_take_linear_time(
    operation: Callable[..., object], arguments: tuple[object, ...]
) -> None:
    started = time.monotonic()
    operation(*arguments)
    assert time.monotonic() - started < 0.5


def test_multipart_boundaries_are_found_in_linear_time() -> None:
    boundary = b"b" * 70
    near_misses = (b"\r\n--" + boundary[:-1] + b"x" + b" " * 20) * 50_000
    started = time.monotonic()
    parts = mime.split_multipart(near_misses, boundary)
    assert time.monotonic() - started < 0.5
    assert len(parts) <= 1
