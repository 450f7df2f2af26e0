"""IDLE and concurrent sessions: deliveries, flag changes and expunges reach every session."""

import imaplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcmd.db.database import open_database
from mailcmd.imap.mailstore import append, local_account_id
from tests.conftest import ALICE, PASSWORD, Cli, StartServer, postgres_url
from tests.imap_support import MESSAGE, Connect, deliver, finish_idle, idling, raw_imap
from tests.servers import RunningServer, running_server, smtp_settings, wait_until


def test_delivery_during_idle_is_announced(imap_server: RunningServer) -> None:
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        idling(client)

        deliver(imap_server)

        assert client.line() == b"* 1 EXISTS"
        assert client.line() == b"* 1 RECENT"
        assert finish_idle(client) == [b"a3 OK IDLE terminated"]
        fetched = client.command(b"a4", b"FETCH 1 FLAGS")
        assert fetched[0] == b"* 1 FETCH (FLAGS (\\Recent))"


def test_idle_sees_a_change_nobody_announced_by_looking_again(
    imap_server: RunningServer,
) -> None:
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        idling(client)
        database = open_database(imap_server.settings.database_url)
        try:
            with database.writing() as session, session.begin():
                account_id = local_account_id(session, ALICE)
                assert account_id is not None
                append(session, account_id, "INBOX", MESSAGE)
        finally:
            database.close()

        # No wake-up: the IDLE finds it at its next look (check_seconds is 0.2).
        assert client.line() == b"* 1 EXISTS"
        finish_idle(client)


def test_an_append_by_another_session_wakes_the_idle(
    imap_server: RunningServer, imap_connect: Connect
) -> None:
    other = imap_connect()
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        idling(client)

        assert other.append("INBOX", None, None, MESSAGE)[0] == "OK"

        assert client.line() == b"* 1 EXISTS"
        finish_idle(client)


def test_idle_without_done_ends_with_bye_after_the_idle_timeout(
    start_server: StartServer,
) -> None:
    server = start_server(imap={"idle_timeout": 0.5, "check_seconds": 0.1})
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        idling(client)

        assert client.line().startswith(b"* BYE")
        assert client.closed_by_server()


def test_idle_answers_bad_to_anything_but_done(imap_server: RunningServer) -> None:
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        idling(client)
        client.send(b"NOOP\r\n")

        assert client.until_tagged(b"a3")[-1].startswith(b"a3 BAD")
        assert client.command(b"a4", b"NOOP") == [b"a4 OK Completed"]


def test_flag_changes_reach_the_other_session_at_its_next_command(
    imap_server: RunningServer, imap_connect: Connect
) -> None:
    deliver(imap_server)
    first, second = imap_connect(), imap_connect()
    first.select("INBOX")
    second.select("INBOX")

    first.store("1", "+FLAGS.SILENT", "\\Flagged")
    second.noop()

    assert second.untagged_responses.pop("FETCH") == [b"1 (UID 1 FLAGS (\\Flagged))"]


def test_expunges_reach_the_other_session_but_not_during_fetch(
    imap_server: RunningServer, imap_connect: Connect
) -> None:
    deliver(imap_server)
    deliver(imap_server)
    first, second = imap_connect(), imap_connect()
    first.select("INBOX")
    second.select("INBOX")
    first.store("1", "+FLAGS.SILENT", "\\Deleted")
    first.expunge()

    during_fetch = second.fetch("1:2", "UID")
    assert "EXPUNGE" not in second.untagged_responses
    second.noop()

    # The expunged message fetched as nothing while it kept its number.
    assert during_fetch == ("OK", [b"2 (UID 2)"])
    assert second.untagged_responses.pop("EXPUNGE") == [b"1"]
    assert second.fetch("1", "UID") == ("OK", [b"1 (UID 2)"])


def test_new_mail_reaches_the_other_session_at_noop(
    imap_server: RunningServer, imap_connect: Connect
) -> None:
    client = imap_connect()
    client.select("INBOX")

    deliver(imap_server)
    client.noop()

    assert client.untagged_responses.pop("EXISTS")[-1] == b"1"


@pytest.fixture
def working_server(accounts: Cli, database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A server with its worker and deliverer, whose IDLE looks again only every 30 s."""
    settings = smtp_settings(tmp_path / "state", database_url, imap={"check_seconds": 30})
    with running_server(settings, work=True) as server:
        yield server


def test_reply_to_a_command_is_announced_to_an_idling_client_at_once(
    working_server: RunningServer,
) -> None:
    server = working_server
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        idling(client)
        smtp = server.submission()
        smtp.login(ALICE, PASSWORD)
        started = time.monotonic()
        smtp.sendmail(
            ALICE,
            ["tasks@app.localhost"],
            b"From: alice@app.localhost\r\nTo: tasks@app.localhost\r\n"
            b"Subject: add Buy milk\r\nMessage-ID: <idle-test@app.localhost>\r\n\r\nthanks\r\n",
        )

        assert client.line() == b"* 1 EXISTS"
        # Far sooner than the 30 s periodic look: the delivery woke the session.
        assert time.monotonic() - started < 10
        finish_idle(client)
        answer = client.command(b"a5", b"FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert b"Buy milk" in b"".join(answer)


def test_imaplib_sees_the_reply(working_server: RunningServer) -> None:
    server = working_server
    smtp = server.submission()
    smtp.login(ALICE, PASSWORD)
    smtp.sendmail(
        ALICE,
        ["tasks@app.localhost"],
        b"From: alice@app.localhost\r\nTo: tasks@app.localhost\r\n"
        b"Subject: add Buy bread\r\nMessage-ID: <imaplib-test@app.localhost>\r\n\r\n",
    )
    client = imaplib.IMAP4_SSL(
        "127.0.0.1", server.port("imaps"), ssl_context=server.tls_client_context, timeout=15
    )
    try:
        client.login(ALICE, PASSWORD)
        # The worker and the deliverer work in the server's thread; the reply comes when
        # they are done, with no event this client could wait for but IMAP itself.
        wait_until(lambda: int(client.select("INBOX")[1][0] or 0), "the reply in INBOX")
        typ, data = client.search(None, "SUBJECT", "bread")
        assert typ == "OK"
        assert data[0]
    finally:
        client.logout()


@pytest.mark.skipif(postgres_url() is None, reason="needs MAILCMD_TEST_DATABASE_URL (PostgreSQL)")
def test_a_change_made_by_another_server_process_wakes_the_idle(
    start_server: StartServer,
) -> None:
    # Two servers share nothing but the database, as two `mailcmd serve` processes do;
    # the IDLE looks again only every 30 s, so only NOTIFY can tell it in time.
    idle_side = start_server(imap={"check_seconds": 30})
    other_side = start_server()
    with raw_imap(idle_side.port("imaps"), idle_side.tls_client_context) as client:
        idling(client)
        writer = imaplib.IMAP4_SSL(
            "127.0.0.1",
            other_side.port("imaps"),
            ssl_context=other_side.tls_client_context,
            timeout=15,
        )
        try:
            writer.login(ALICE, PASSWORD)
            started = time.monotonic()
            assert writer.append("INBOX", None, None, MESSAGE)[0] == "OK"
        finally:
            writer.logout()

        assert client.line() == b"* 1 EXISTS"
        assert time.monotonic() - started < 10
        finish_idle(client)
