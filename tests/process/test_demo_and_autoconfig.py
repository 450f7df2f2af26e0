"""A newcomer's first minutes: `serve --demo` prints working settings; clients autoconfigure."""

import imaplib
import signal
import smtplib
import ssl
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from mailcmd.net.tls import fingerprint
from mailcmd.operations.autoconfig import AUTOCONFIG_PATHS
from tests.conftest import Cli
from tests.servers import (
    TIMEOUT,
    RawClient,
    clean_environment,
    mailcmd_command,
    raw_http,
    serve_process,
)


def demo_environment() -> dict[str, str]:
    return clean_environment(MAILCMD_IMAP__PORT="0", MAILCMD_IMAP__TLS_PORT="0")


def printed(lines: list[str], prefix: str) -> str:
    return next(line for line in lines if line.strip().startswith(prefix)).strip()[len(prefix) :]


def test_serve_demo_makes_an_account_once_and_its_printed_settings_work(tmp_path: Path) -> None:
    env = demo_environment()
    command = [*mailcmd_command(), "serve", "--demo"]
    with serve_process(command, cwd=tmp_path, env=env) as first:
        login = printed(first.lines, "address and login: ")
        password = printed(first.lines, "password: ")
        cert = tmp_path / ".mailcmd" / "tls" / "dev-cert.pem"
        context = ssl.create_default_context(cafile=str(cert))
        imaps = printed(first.lines, "incoming IMAP: 127.0.0.1 port ").split(",")[0]
        smtps = (
            next(line for line in first.lines if "outgoing SMTP" in line and "SSL/TLS" in line)
            .split(" port ")[1]
            .split(",")[0]
        )
        with smtplib.SMTP_SSL("127.0.0.1", int(smtps), timeout=TIMEOUT, context=context) as smtp:
            smtp.login(login, password)
        with imaplib.IMAP4_SSL(
            "127.0.0.1", int(imaps), ssl_context=context, timeout=TIMEOUT
        ) as imap:
            assert imap.login(login, password)[0] == "OK"
        assert first.stop(signal.SIGTERM) == 0
    with serve_process(command, cwd=tmp_path, env=env) as second:
        again = printed(second.lines, "password: ")
        assert second.stop(signal.SIGTERM) == 0

    assert login == "demo@app.localhost"
    assert "demo account (made just now):" in first.lines
    assert "demo account:" in second.lines
    assert again == password
    assert any(fingerprint(cert) in line for line in first.lines)
    assert first.lines[-1] == "ready"
    # The app's own mailboxes are offered; mailcmd's confirm@ is nothing to write to.
    assert printed(first.lines, "then write to the app at ") == (
        "account@app.localhost, tasks@app.localhost, a command in the subject;"
    )
    assert (tmp_path / ".mailcmd" / "demo-password").stat().st_mode & 0o077 == 0


def autoconfig_xml(cli: Cli) -> ElementTree.Element:
    result = cli("autoconfig")
    assert result.exit_code == 0, result.stderr
    return ElementTree.fromstring(result.stdout)  # noqa: S314 - mailcmd's own output


def test_autoconfig_describes_the_servers_a_client_needs(cli: Cli) -> None:
    document = autoconfig_xml(cli)

    provider = document.find("emailProvider")
    assert provider is not None
    assert provider.findtext("domain") == "app.localhost"
    servers = [
        (
            server.tag,
            server.get("type"),
            server.findtext("port"),
            server.findtext("socketType"),
            server.findtext("username"),
        )
        for server in provider
        if server.tag.endswith("Server")
    ]
    assert servers == [
        ("incomingServer", "imap", "8993", "SSL", "%EMAILADDRESS%"),
        ("incomingServer", "imap", "8143", "STARTTLS", "%EMAILADDRESS%"),
        ("outgoingServer", "smtp", "8465", "SSL", "%EMAILADDRESS%"),
        ("outgoingServer", "smtp", "8587", "STARTTLS", "%EMAILADDRESS%"),
    ]


def test_autoconfig_refuses_a_port_only_the_running_server_knows(cli: Cli) -> None:
    result = Cli(env={**cli.env, "MAILCMD_IMAP__TLS_PORT": "0"})("autoconfig")

    assert result.exit_code == 1
    assert result.stderr == (
        "mailcmd: imap.tls_port: 0 (any free port) is known only once the server runs;"
        " set a fixed port to print the document\n"
    )


def test_autoconfig_leaves_out_the_ports_that_are_off(cli: Cli) -> None:
    off = Cli(env={**cli.env, "MAILCMD_IMAP__PORT": "off", "MAILCMD_SMTP__SUBMISSION_PORT": "off"})

    document = autoconfig_xml(off)

    assert [port.text for port in document.iter("port")] == ["8993", "8465"]


def test_the_autoconfig_listener_serves_the_document_and_nothing_else(tmp_path: Path) -> None:
    env = {**demo_environment(), "MAILCMD_AUTOCONFIG__PORT": "0"}
    with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as served:
        port = served.port("autoconfig")
        listeners = ("imaps", "imap", "submissions", "submission")
        bound = [str(served.port(name)) for name in listeners]
        answers = {
            path: raw_http(
                port,
                f"GET {path}?emailaddress=a%40app.localhost HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
            )
            for path in AUTOCONFIG_PATHS
        }
        missing = raw_http(port, b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
        posted = raw_http(port, b"POST /mail/config-v1.1.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        garbage = raw_http(port, b"\x16\x03\x01 not http at all\r\n\r\n")
        huge = raw_http(
            port, b"GET /mail/config-v1.1.xml HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n"
        )
        silent = RawClient(port)  # connects and says nothing: the listener must not wait forever
        silent.close()
        assert served.stop(signal.SIGTERM) == 0

    bodies = []
    for answer in answers.values():
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert b"Content-Type: text/xml" in head
        bodies.append(body)
    assert bodies[0] == bodies[1]
    document = ElementTree.fromstring(bodies[0])  # noqa: S314 - mailcmd's own output
    assert [port.text for port in document.iter("port")] == bound
    assert missing.startswith(b"HTTP/1.1 404")
    assert posted.startswith(b"HTTP/1.1 405")
    assert garbage.startswith(b"HTTP/1.1 400")
    assert huge.startswith(b"HTTP/1.1 431")
