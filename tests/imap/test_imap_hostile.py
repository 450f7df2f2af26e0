"""Hostile and broken input on the IMAP ports: every bad command gets BAD, the session goes on."""

import socket
import ssl
import time

from tests.conftest import ALICE, PASSWORD, StartServer
from tests.imap_support import raw_imap
from tests.servers import TIMEOUT, RunningServer

LOGIN = b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode())


def test_overlong_line_gets_bad_and_the_session_goes_on(imap_server: RunningServer) -> None:
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        client.send(b"a1 NOOP " + b"x" * 100_000 + b"\r\n")
        too_long = client.until_tagged(b"*")
        after = client.command(b"a2", b"NOOP")

    assert too_long[-1].startswith(b"* BAD")
    assert after == [b"a2 OK Completed"]


def test_huge_literal_is_refused_before_it_is_sent(imap_server: RunningServer) -> None:
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        client.command(b"a1", LOGIN)
        client.send(b"a2 APPEND INBOX {100000000}\r\n")
        append = client.until_tagged(b"a2")
        client.send(b"a3 LOGIN {100000000}\r\n")
        login = client.until_tagged(b"a3")
        after = client.command(b"a4", b"NOOP")

    assert append == [b"a2 NO [TOOBIG] message too large"]
    assert login[-1].startswith(b"a3 BAD")
    assert after == [b"a4 OK Completed"]


def test_non_synchronising_literal_over_the_limit_ends_the_connection(
    imap_server: RunningServer,
) -> None:
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        client.command(b"a1", LOGIN)
        client.send(b"a2 APPEND INBOX {100000000+}\r\n" + b"x" * 1000)

        assert client.line() == b"* BYE [TOOBIG] Literal too large"
        assert client.closed_by_server()


def test_garbage_and_unknown_commands_get_bad(imap_server: RunningServer) -> None:
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        garbage = client.command(b"a1", b'\x00\xff(("unbalanced')
        unknown = client.command(b"a2", b"FROBNICATE now")
        untagged = client.command(b"*", b"NOOP")
        no_command = client.command(b"a3", b"")
        wrong_state = client.command(b"a4", b"SELECT INBOX")
        bad_quote = client.command(b"a5", b'LOGIN "unterminated')
        after = client.command(b"a6", b"NOOP")

    assert garbage[-1].startswith(b"a1 BAD")
    assert unknown == [b"a2 BAD Unknown command"]
    assert untagged[-1].startswith(b"* BAD")
    assert no_command[-1].startswith(b"a3 BAD")
    assert wrong_state == [b"a4 BAD Command not allowed now"]
    assert bad_quote[-1].startswith(b"a5 BAD")
    assert after == [b"a6 OK Completed"]


def test_plaintext_after_starttls_is_not_run(imap_server: RunningServer) -> None:
    with raw_imap(imap_server.port("imap")) as client:
        client.send(b"a1 STARTTLS\r\na2 " + LOGIN + b"\r\n")
        answer = client.until_tagged(b"a1")

        assert answer[-1].startswith(b"a1 OK")
        assert client.closed_by_server()


def test_starttls_then_login(imap_server: RunningServer) -> None:
    with raw_imap(imap_server.port("imap")) as client:
        assert client.command(b"a1", b"STARTTLS")[-1].startswith(b"a1 OK")
        client.starttls(imap_server.tls_client_context)
        capability = client.command(b"a2", b"CAPABILITY")
        login = client.command(b"a3", LOGIN)

    assert b"AUTH=PLAIN" in capability[0]
    assert b"STARTTLS" not in capability[0]
    assert login[-1].startswith(b"a3 OK")


def test_client_silent_before_login_is_logged_out(start_server: StartServer) -> None:
    server = start_server(imap={"login_timeout": 0.3})
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        assert client.line().startswith(b"* BYE")
        assert client.closed_by_server()


def test_noops_do_not_stretch_the_time_to_log_in(start_server: StartServer) -> None:
    server = start_server(imap={"login_timeout": 0.5})
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        deadline = time.monotonic() + TIMEOUT
        answer: list[bytes] = []
        while time.monotonic() < deadline and not client.closed:
            answer = client.command(b"a1", b"NOOP")

        assert any(line.startswith(b"* BYE") for line in answer)


def test_connections_beyond_the_limit_get_bye(start_server: StartServer) -> None:
    server = start_server(imap={"max_connections": 1})
    with raw_imap(server.port("imaps"), server.tls_client_context) as first:
        assert first.greeting.startswith(b"* OK")
        with raw_imap(server.port("imaps"), server.tls_client_context) as second:
            assert second.greeting.startswith(b"* BYE")
        assert first.command(b"a1", b"NOOP") == [b"a1 OK Completed"]


def test_failed_logins_lock_the_login_for_imap_and_smtp(start_server: StartServer) -> None:
    server = start_server(
        auth={"lockout_failures": 2, "failure_delay": 0.0, "max_failure_delay": 0.0}
    )
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        first = client.command(b"a1", b'LOGIN "%s" "wrong"' % ALICE.encode())
        second = client.command(b"a2", b'LOGIN "%s" "wrong"' % ALICE.encode())
        locked = client.command(b"a3", LOGIN)

        assert first == [b"a1 NO [AUTHENTICATIONFAILED] Invalid credentials"]
        assert second == [b"a2 NO [AUTHENTICATIONFAILED] Invalid credentials"]
        assert locked[-1].startswith(b"a3 NO [UNAVAILABLE]")
        assert client.closed_by_server()
    smtp = server.submission()
    code, _ = smtp.docmd("AUTH", "PLAIN")
    assert code == 334


def test_tls_port_drops_a_client_that_does_not_speak_tls(imap_server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", imap_server.port("imaps")), timeout=TIMEOUT) as raw:
        raw.sendall(b"a1 NOOP\r\n")
        try:
            answer = raw.recv(100)
        except (ConnectionResetError, ssl.SSLError):
            answer = b""

    assert b"OK" not in answer


def test_a_logged_in_client_silent_too_long_is_logged_out(start_server: StartServer) -> None:
    server = start_server(imap={"timeout": 0.3})
    with raw_imap(server.port("imaps"), server.tls_client_context) as client:
        assert client.command(b"a1", LOGIN)[-1].startswith(b"a1 OK")

        assert client.line() == b"* BYE Autologout; idle for too long"
        assert client.closed_by_server()
