"""What Thunderbird sends, line by line, and what breaks inside the server."""

import logging

import pytest
from sqlalchemy import text

from mailcmd.db.engine import open_engine
from tests.conftest import ALICE, PASSWORD
from tests.imap_support import MESSAGE, deliver, raw_imap
from tests.servers import RunningServer

HEADER_FIELDS = (
    b"From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
    b"In-Reply-To Content-Type Reply-To"
)


def test_a_thunderbird_session(imap_server: RunningServer) -> None:
    deliver(imap_server)
    with raw_imap(imap_server.port("imap")) as client:
        assert client.command(b"1", b"capability")[-1] == b"1 OK Completed"
        assert client.command(b"2", b"STARTTLS")[-1].startswith(b"2 OK")
        client.starttls(imap_server.tls_client_context)
        assert client.command(b"3", b"capability")[-1] == b"3 OK Completed"
        client.send(b"4 login {%d}\r\n" % len(ALICE))
        assert client.line().startswith(b"+ ")
        client.send(ALICE.encode() + b" {%d}\r\n" % len(PASSWORD))
        assert client.line().startswith(b"+ ")
        client.send(PASSWORD.encode() + b"\r\n")
        login = client.until_tagged(b"4")
        assert login[-1].startswith(b"4 OK [CAPABILITY IMAP4rev1")
        identity = client.command(b"5", b'ID ("name" "Thunderbird" "version" "128.0")')
        assert identity[0] == b'* ID ("name" "mailcmd" "vendor" "mailcmd")'
        assert client.command(b"6", b"namespace")[0] == b'* NAMESPACE (("" "/")) NIL NIL'
        special = client.command(b"7", b'list (SPECIAL-USE) "" "*"')
        assert b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"' in special
        assert client.command(b"8", b'lsub "" "*"')[-1] == b"8 OK Completed"
        selected = client.command(b"9", b'select "INBOX"')
        assert b"* 1 EXISTS" in selected
        assert client.command(b"10", b"UID fetch 1:* (FLAGS)")[0] == b"* 1 FETCH (UID 1 FLAGS ())"
        headers = client.command(
            b"11",
            b"UID fetch 1 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ("
            + HEADER_FIELDS
            + b")])",
        )
        assert headers[0].startswith(
            b"* 1 FETCH (UID 1 RFC822.SIZE %d FLAGS () BODY[HEADER.FIELDS (FROM TO CC"
            % len(MESSAGE)
        )
        body = client.command(b"12", b"UID fetch 1 (UID RFC822.SIZE BODY.PEEK[])")
        assert body[-1] == b"12 OK Completed"
        assert client.command(b"13", b"UID store 1 +Flags (\\Seen)")[-1] == b"13 OK Completed"
        client.send(b"14 IDLE\r\n")
        assert client.line() == b"+ idling"
        client.send(b"DONE\r\n")
        assert client.until_tagged(b"14") == [b"14 OK IDLE terminated"]
        client.send(b'15 append "Sent" (\\Seen) {%d}\r\n' % len(MESSAGE))
        assert client.line().startswith(b"+ ")
        client.send(MESSAGE + b"\r\n")
        saved = client.until_tagged(b"15")
        assert saved[-1].startswith(b"15 OK [APPENDUID ")
        assert client.command(b"16", b"logout")[0] == b"* BYE Logging out"


def test_an_internal_error_gets_a_reference_and_the_session_goes_on(
    imap_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(imap_server)
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        client.command(b"a1", b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode()))
        client.command(b"a2", b"SELECT INBOX")
        # A real fault under the server: its messages' table is gone.
        engine = open_engine(imap_server.settings.database_url)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP TABLE mail_messages"))
        finally:
            engine.dispose()

        with caplog.at_level(logging.ERROR, logger="mailcmd.imap"):
            failed = client.command(b"a3", b"FETCH 1 FLAGS")
        after = client.command(b"a4", b"CAPABILITY")

    assert len(failed) == 1
    assert failed[0].startswith(b"a3 NO [SERVERBUG] Internal error, reference ")
    reference = failed[0].rsplit(b" ", 1)[1].decode()
    assert reference in caplog.text
    assert "Traceback" not in failed[0].decode()
    assert after[0].startswith(b"* CAPABILITY IMAP4rev1")
    assert after[-1] == b"a4 OK Completed"


def test_an_answer_that_arrives_with_a_store_is_told_when_idle_starts(
    imap_server: RunningServer,
) -> None:
    # Thunderbird marks the message it replied to \Answered and goes back to IDLE; an
    # EXISTS that came with the STORE's completion would be ignored, and the app's
    # answer would show only at the next folder switch.
    deliver(imap_server)
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        client.command(b"1", b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode()))
        assert b"* 1 EXISTS" in client.command(b"2", b"SELECT INBOX")
        deliver(imap_server)

        stored = client.command(b"3", b"UID STORE 1 +FLAGS (\\Answered)")
        client.send(b"4 IDLE\r\n")
        idling = [client.line(), client.line(), client.line()]
        client.send(b"DONE\r\n")
        done = client.until_tagged(b"4")

    assert stored == [b"* 1 FETCH (UID 1 FLAGS (\\Answered))", b"3 OK Completed"]
    assert idling == [b"+ idling", b"* 2 EXISTS", b"* 1 RECENT"]
    assert done == [b"4 OK IDLE terminated"]


def test_news_held_back_during_fetch_comes_with_the_next_noop(
    imap_server: RunningServer,
) -> None:
    deliver(imap_server)
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        client.command(b"1", b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode()))
        client.command(b"2", b"SELECT INBOX")
        deliver(imap_server)

        fetched = client.command(b"3", b"UID FETCH 1:* (FLAGS)")
        noop = client.command(b"4", b"NOOP")

    assert fetched == [b"* 1 FETCH (UID 1 FLAGS ())", b"3 OK Completed"]
    assert noop == [b"* 2 EXISTS", b"* 1 RECENT", b"4 OK Completed"]
