"""`mailcmd serve` as an operator runs it: start-up, schema handling, certificate, stop."""

import json
import signal
import smtplib
import ssl
from pathlib import Path

import pytest

from mailcmd.db import migrations
from mailcmd.net.tls import fingerprint
from tests.conftest import ALICE, PASSWORD, Cli, StartServer, postgres_url
from tests.servers import TIMEOUT, RawClient, clean_environment, mailcmd_command, serve_process

# Every listener but autoconfig, and what it greets a new connection with.
GREETINGS = {
    "submission": "220 ",
    "submissions": "220 ",
    "mx": "220 ",
    "imap": "* OK",
    "imaps": "* OK",
}
IMPLICIT_TLS = ("submissions", "imaps")


def test_serve_creates_and_upgrades_sqlite_then_stops_on_sigterm(tmp_path: Path) -> None:
    env = clean_environment()

    with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as served:
        cert = tmp_path / ".mailcmd" / "tls" / "dev-cert.pem"
        assert f"certificate SHA-256 fingerprint: {fingerprint(cert)}" in served.lines
        assert (
            "retention: purge at cron 30 3 * * * (UTC); see mailcmd queue purge --dry-run"
            in served.lines
        )
        with smtplib.SMTP("127.0.0.1", served.port("submission"), timeout=TIMEOUT) as client:
            client.ehlo("client.test")
            client.starttls(context=ssl.create_default_context(cafile=str(cert)))
            assert client.ehlo("client.test")[0] == 250
        exit_code = served.stop(signal.SIGTERM)

    assert exit_code == 0
    assert (tmp_path / ".mailcmd" / "mailcmd.db").is_file()


def test_two_servers_on_port_zero_listen_on_ports_of_their_own_and_announce_them(
    start_server: StartServer,
) -> None:
    servers = [start_server(mx_port=0), start_server(mx_port=0)]

    ports = [{name: server.port(name) for name in GREETINGS} for server in servers]
    greetings = []
    for server, bound in zip(servers, ports, strict=True):
        for name, port in bound.items():
            tls = server.tls_client_context if name in IMPLICIT_TLS else None
            client = RawClient(port, tls_context=tls)
            greetings.append(client.reply()[: len(GREETINGS[name])])
            client.close()
    lines = servers[0].server.start_up_lines()

    assert len({port for bound in ports for port in bound.values()}) == 2 * len(GREETINGS)
    assert 0 not in ports[0].values()
    assert greetings == list(GREETINGS.values()) * 2
    assert (
        f"listening: mx on 127.0.0.1:{ports[0]['mx']}"
        ' (smtp.mx_port is 0: any free port; "off" turns it off)'
    ) in lines


def test_serve_leaves_the_sqlite_schema_at_head(tmp_path: Path, empty_cli: Cli) -> None:
    env = clean_environment()

    with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as served:
        assert served.stop(signal.SIGINT) == 0

    database = f"sqlite:///{tmp_path / '.mailcmd' / 'mailcmd.db'}"
    current = Cli(env={"MAILCMD_DATABASE_URL": database})("db", "current")
    # Both histories, mailcmd's and the bundled app's, are at their heads.
    lines = current.stdout.splitlines()
    assert lines[0] == f"mailcmd: {migrations.head_revision()} (head)"
    assert lines[1].startswith("app (")
    assert lines[1].endswith(" (head)")
    assert len(lines) == 2


@pytest.mark.skipif(postgres_url() is None, reason="needs MAILCMD_TEST_DATABASE_URL (PostgreSQL)")
def test_serve_refuses_a_postgresql_schema_that_is_behind(empty_cli: Cli) -> None:
    result = empty_cli("serve")

    assert result.exit_code == 1
    assert result.stderr.startswith("mailcmd: the mailcmd schema is at nothing")
    assert result.stderr.endswith("run `mailcmd db upgrade`\n")


def test_json_log_format_writes_one_json_object_per_line(tmp_path: Path, accounts: Cli) -> None:
    env = clean_environment(
        MAILCMD_DATABASE_URL=accounts.env["MAILCMD_DATABASE_URL"],
        MAILCMD_STATE_DIR=str(tmp_path / "state"),
        MAILCMD_LOG_FORMAT="json",
    )

    with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as served:
        cert = tmp_path / "state" / "tls" / "dev-cert.pem"
        with smtplib.SMTP("127.0.0.1", served.port("submission"), timeout=TIMEOUT) as client:
            client.starttls(context=ssl.create_default_context(cafile=str(cert)))
            client.login(ALICE, PASSWORD)
            client.sendmail(ALICE, [ALICE], b"Subject: hi\r\n\r\nhello\r\n")
        assert served.stop() == 0
        errors = served.logged()

    entries = [json.loads(line) for line in errors.splitlines()]
    [transaction] = [entry for entry in entries if "smtp" in entry]
    assert transaction["logger"] == "mailcmd.smtp.transactions"
    assert transaction["smtp"]["account"] == ALICE
    assert transaction["smtp"]["rcpt_to"] == [ALICE]
    assert transaction["smtp"]["result"].startswith("250 2.0.0 Ok: queued as ")
    assert PASSWORD not in errors
