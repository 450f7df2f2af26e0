"""Hostile and malformed input on raw sockets: smuggling, long lines, STARTTLS abuse, limits."""

import base64
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mailcmd.db.engine import open_engine
from mailcmd.smtp.replies import SmtpReplies
from tests.conftest import ALICE, PASSWORD, StartServer
from tests.servers import RawClient, RunningServer
from tests.smtp.test_smtp_submission import stored_messages


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:
    return start_server()


@pytest.fixture
def clients() -> Iterator[list[RawClient]]:
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        client.close()


def logged_in(server: RunningServer, clients: list[RawClient]) -> RawClient:
    """A raw client on the submissions port, greeted, after EHLO and AUTH."""
    client = RawClient(server.port("submissions"), server.tls_client_context)
    clients.append(client)
    assert client.reply().startswith("220 ")
    client.command("EHLO client.test")
    token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
    assert client.command(f"AUTH PLAIN {token}") == str(SmtpReplies.AUTH_OK)
    return client


SMUGGLED = (
    b"MAIL FROM:<alice@app.localhost>{eol}RCPT TO:<alice@app.localhost>{eol}DATA{eol}"
    b"Subject: smuggled{eol}{eol}evil{eol}"
)


@pytest.mark.parametrize(
    "end",
    [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n", b"\n.\r"],
    ids=["LF.LF", "LF.CRLF", "CRLF.LF", "CR.CR", "CRLF.CR", "CR.CRLF", "LF.CR"],
)
def test_bare_line_endings_never_end_data_nor_smuggle_a_second_message(
    server: RunningServer, clients: list[RawClient], database_url: str, end: bytes
) -> None:
    client = logged_in(server, clients)
    client.command("MAIL FROM:<alice@app.localhost>")
    client.command("RCPT TO:<alice@app.localhost>")
    assert client.command("DATA").startswith("354 ")
    eol = end[-1:]
    smuggled = SMUGGLED.replace(b"{eol}", eol)

    client.send(b"Subject: first\r\n\r\nhello" + end + smuggled + b".\r\n" + b"\r\n.\r\n")

    assert client.reply() == str(SmtpReplies.BARE_LINE_ENDING)
    assert client.command("NOOP") == str(SmtpReplies.NOOP)
    assert stored_messages(database_url) == []


def test_bare_lf_inside_an_otherwise_proper_message_is_refused(
    server: RunningServer, clients: list[RawClient], database_url: str
) -> None:
    client = logged_in(server, clients)
    client.command("MAIL FROM:<alice@app.localhost>")
    client.command("RCPT TO:<alice@app.localhost>")
    client.command("DATA")

    assert client.command("Subject: x\r\n\r\nline one\nline two\r\n.") == str(
        SmtpReplies.BARE_LINE_ENDING
    )
    assert stored_messages(database_url) == []


def test_command_line_over_the_limit_is_refused_and_session_goes_on(
    server: RunningServer, clients: list[RawClient]
) -> None:
    client = logged_in(server, clients)

    assert client.command("NOOP " + "x" * 2000) == str(SmtpReplies.LINE_TOO_LONG)
    assert client.command("NOOP") == str(SmtpReplies.NOOP)


def test_data_line_over_1000_octets_is_refused(
    server: RunningServer, clients: list[RawClient], database_url: str
) -> None:
    client = logged_in(server, clients)
    client.command("MAIL FROM:<alice@app.localhost>")
    client.command("RCPT TO:<alice@app.localhost>")
    client.command("DATA")

    assert client.command("Subject: x\r\n\r\n" + "y" * 1200 + "\r\n.") == str(
        SmtpReplies.LINE_TOO_LONG
    )
    assert stored_messages(database_url) == []


def test_commands_pipelined_behind_starttls_are_discarded(
    server: RunningServer, clients: list[RawClient]
) -> None:
    client = RawClient(server.port("submission"))
    clients.append(client)
    client.reply()
    client.command("EHLO client.test")

    client.send(b"STARTTLS\r\nXYZZY smuggled\r\n")
    assert client.reply().startswith("220 ")
    client.starttls(server.tls_client_context)

    # Had the smuggled command run, its 500 would come before the RSET's reply.
    assert client.command("RSET") == str(SmtpReplies.OK)


def test_second_starttls_is_refused(server: RunningServer, clients: list[RawClient]) -> None:
    plain_then_tls = RawClient(server.port("submission"))
    implicit = RawClient(server.port("submissions"), server.tls_client_context)
    clients += [plain_then_tls, implicit]
    plain_then_tls.reply()
    plain_then_tls.command("EHLO client.test")
    plain_then_tls.command("STARTTLS")
    plain_then_tls.starttls(server.tls_client_context)
    implicit.reply()

    assert plain_then_tls.command("EHLO client.test").startswith("250-")
    assert plain_then_tls.command("STARTTLS") == str(SmtpReplies.TLS_ALREADY_ACTIVE)
    assert implicit.command("STARTTLS") == str(SmtpReplies.TLS_ALREADY_ACTIVE)


def test_client_must_ehlo_again_after_starttls(
    server: RunningServer, clients: list[RawClient]
) -> None:
    client = RawClient(server.port("submission"))
    clients.append(client)
    client.reply()
    client.command("EHLO client.test")
    client.command("STARTTLS")
    client.starttls(server.tls_client_context)
    token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()

    assert client.command(f"AUTH PLAIN {token}") == str(SmtpReplies.BAD_SEQUENCE)
    assert "STARTTLS" not in client.command("EHLO client.test")
    assert client.command(f"AUTH PLAIN {token}") == str(SmtpReplies.AUTH_OK)


def test_idle_client_is_told_421_and_disconnected(start_server: StartServer) -> None:
    server = start_server(timeout=0.3)
    client = RawClient(server.port("submission"))
    try:
        client.reply()

        assert client.reply() == str(SmtpReplies.TIMEOUT)
        assert client.closed_by_server()
    finally:
        client.close()


def test_connections_beyond_the_limit_get_421(start_server: StartServer) -> None:
    server = start_server(max_connections=2)
    first = RawClient(server.port("submission"))
    second = RawClient(server.port("submissions"), server.tls_client_context)
    assert first.reply().startswith("220 ")
    assert second.reply().startswith("220 ")
    third = RawClient(server.port("submission"))
    try:
        assert third.reply() == str(SmtpReplies.TOO_MANY_CONNECTIONS)
        assert third.closed_by_server()
        first.command("QUIT")
        first.close()
        fourth = RawClient(server.port("submission"))
        assert fourth.reply().startswith("220 ")
        fourth.close()
    finally:
        for client in (first, second, third):
            client.close()


def test_database_failure_answers_451_with_a_reference_and_no_traceback(
    server: RunningServer, clients: list[RawClient], database_url: str
) -> None:
    client = logged_in(server, clients)
    client.command("MAIL FROM:<alice@app.localhost>")
    client.command("RCPT TO:<alice@app.localhost>")
    engine = open_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE inbound_messages RENAME TO inbound_gone"))
    finally:
        engine.dispose()
    client.command("DATA")

    reply = client.command("Subject: x\r\n\r\nhello\r\n.")

    assert reply.startswith("451 4.3.0 Temporary failure, try again later (ref ")
    for leak in ("Error", "Traceback", "table"):
        assert leak not in reply


def test_a_stalled_client_does_not_hold_up_another(
    server: RunningServer, clients: list[RawClient], database_url: str
) -> None:
    stalled = RawClient(server.port("submission"))
    clients.append(stalled)
    stalled.reply()
    stalled.send(b"EHLO half-a-comma")

    client = logged_in(server, clients)
    client.command("MAIL FROM:<alice@app.localhost>")
    client.command("RCPT TO:<alice@app.localhost>")
    client.command("DATA")

    assert client.command("Subject: x\r\n\r\nhello\r\n.").startswith("250 2.0.0 Ok: queued")
    assert len(stored_messages(database_url)) == 1


def test_unknown_command_gets_500_and_session_goes_on(
    server: RunningServer, clients: list[RawClient]
) -> None:
    client = logged_in(server, clients)

    assert client.command("XYZZY") == str(SmtpReplies.UNKNOWN_COMMAND)
    assert client.command("NOOP") == str(SmtpReplies.NOOP)


def test_non_ascii_garbage_gets_a_clear_code(
    server: RunningServer, clients: list[RawClient]
) -> None:
    client = logged_in(server, clients)

    client.send(b"\xff\xfe\x00 junk\r\n")

    assert client.reply() == str(SmtpReplies.BAD_SYNTAX)
    assert client.command("NOOP") == str(SmtpReplies.NOOP)


CURL = shutil.which("curl")


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
def test_curl_without_crlf_is_told_to_add_it_and_with_it_is_queued(
    server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    assert CURL is not None
    # A file written as editors write it: lines end in LF alone.
    message = tmp_path / "mail.txt"
    message.write_bytes(f"From: {ALICE}\nTo: {ALICE}\nSubject: hello\n\nSent with curl.\n".encode())
    command = [
        CURL,
        "--silent",
        "--show-error",
        "--verbose",
        "--max-time",
        "30",
        "--cacert",
        str(server.server.tls.files.cert),
        "--user",
        f"{ALICE}:{PASSWORD}",
        "--mail-from",
        ALICE,
        "--mail-rcpt",
        ALICE,
        "--upload-file",
        str(message),
        f"smtps://127.0.0.1:{server.port('submissions')}",
    ]

    refused = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert stored_messages(database_url) == []
    queued = subprocess.run(
        [*command, "--crlf"], capture_output=True, text=True, timeout=60, check=False
    )

    assert refused.returncode != 0
    assert f"< {SmtpReplies.BARE_LINE_ENDING}" in refused.stderr
    assert "--crlf" in str(SmtpReplies.BARE_LINE_ENDING)
    assert queued.returncode == 0, queued.stderr
    assert len(stored_messages(database_url)) == 1
