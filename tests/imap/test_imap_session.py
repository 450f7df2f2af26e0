"""The IMAP ports through real TLS: greeting, capabilities, logging in, and session commands."""

import base64
import imaplib

import pytest

from tests.conftest import ALICE, PASSWORD, StartServer
from tests.imap_support import Connect, imap_client, raw_imap
from tests.servers import RunningServer


def test_starttls_port_refuses_login_before_tls(imap_server: RunningServer) -> None:
    with raw_imap(imap_server.port("imap")) as client:
        assert b"LOGINDISABLED" in client.greeting
        assert b"STARTTLS" in client.greeting
        assert b"AUTH=PLAIN" not in client.greeting
        login = client.command(b"a1", b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode()))
        plain = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode())
        auth = client.command(b"a2", b"AUTHENTICATE PLAIN " + plain)

        assert login[-1].startswith(b"a1 NO [PRIVACYREQUIRED]")
        assert auth[-1].startswith(b"a2 NO [PRIVACYREQUIRED]")


def test_login_after_starttls(imap_server: RunningServer) -> None:
    client = imap_client(imap_server, starttls=True)
    try:
        assert "AUTH=PLAIN" in client.capabilities
        assert "LOGINDISABLED" not in client.capabilities
        status, _ = client.login(ALICE, PASSWORD)
        assert status == "OK"
    finally:
        client.logout()


def test_implicit_tls_port_offers_plain_at_once(imap_connect: Connect) -> None:
    client = imap_connect(login=False)

    assert "AUTH=PLAIN" in client.capabilities
    assert "STARTTLS" not in client.capabilities
    assert client.login(ALICE, PASSWORD)[0] == "OK"


def test_authenticate_plain_with_a_continuation(imap_connect: Connect) -> None:
    client = imap_connect(login=False)
    credentials = f"\0{ALICE}\0{PASSWORD}".encode()

    # imaplib waits for the server's "+" before it sends the response.
    assert client.authenticate("PLAIN", lambda _: credentials)[0] == "OK"


def test_authenticate_plain_with_an_initial_response(imap_server: RunningServer) -> None:
    plain = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode())
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        assert b"SASL-IR" in client.greeting
        client.send(b"a1 AUTHENTICATE PLAIN\r\n")
        challenge = client.line()
        client.send(b"*\r\n")
        cancelled = client.until_tagged(b"a1")
        lines = client.command(b"a2", b"AUTHENTICATE PLAIN " + plain)

    assert challenge == b"+ "
    assert cancelled[-1].startswith(b"a1 BAD")
    assert lines[-1].startswith(b"a2 OK [CAPABILITY ")


def test_wrong_password_is_refused_and_the_session_goes_on(imap_connect: Connect) -> None:
    client = imap_connect(login=False)

    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login(ALICE, "wrong password")
    assert client.login(ALICE, PASSWORD)[0] == "OK"


def test_disabled_account_cannot_log_in(imap_connect: Connect) -> None:
    client = imap_connect(login=False)

    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("bob@app.localhost", PASSWORD)


def test_capability_noop_id_namespace_logout(imap_connect: Connect) -> None:
    client = imap_connect()

    typ, data = client.capability()
    assert typ == "OK"
    for name in (b"IMAP4rev1", b"IDLE", b"UIDPLUS", b"MOVE", b"SPECIAL-USE", b"NAMESPACE"):
        assert name in data[0].split()
    assert client.noop()[0] == "OK"
    typ, data = client.xatom("ID", "NIL")
    assert typ == "OK"
    assert b'"name" "mailcmd"' in client.untagged_responses.pop("ID")[0]
    typ, data = client.namespace()
    assert data == [b'(("" "/")) NIL NIL']
    assert client.logout()[0] == "BYE"


def test_start_up_lines_name_both_imap_ports(imap_server: RunningServer) -> None:
    lines = imap_server.server.start_up_lines()

    assert (
        f"listening: imap on 127.0.0.1:{imap_server.port('imap')}"
        ' (imap.port is 0: any free port; "off" turns it off)'
    ) in lines
    assert (
        f"listening: imaps on 127.0.0.1:{imap_server.port('imaps')}"
        ' (imap.tls_port is 0: any free port; "off" turns it off)'
    ) in lines


def test_a_port_set_off_does_not_listen(start_server: StartServer) -> None:
    server = start_server(imap={"port": "off"})

    assert "imap" not in server.server.addresses
    assert "imaps" in server.server.addresses


def test_stopping_the_server_says_bye_to_open_sessions(imap_server: RunningServer) -> None:
    with raw_imap(imap_server.port("imaps"), imap_server.tls_client_context) as client:
        client.command(b"a1", b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode()))
        client.send(b"a2 IDLE\r\n")
        assert client.line() == b"+ idling"

        imap_server.shut_down()

        assert client.line() == b"* BYE Server shutting down"
        assert client.closed_by_server()
