"""`[metrics] port` as an operator scrapes it: counts that follow the mail, health, bad requests."""

import asyncio
import imaplib
import signal
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailcmd.db.database import Database
from mailcmd.db.engine import open_engine, session_factory
from mailcmd.operations.metrics.listener import MetricsListener
from mailcmd.settings import MetricsSettings
from mailcmd.testing import scratch_database_url
from tests.conftest import ALICE, PASSWORD, Cli
from tests.servers import (
    TIMEOUT,
    RawSocket,
    ServeProcess,
    clean_environment,
    mailcmd_command,
    raw_http,
    serve_process,
    wait_until,
)

# How long the listeners give a client to send its request (`metrics.timeout`).
REQUEST_SECONDS = 1.0

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Served:
    """A `mailcmd serve` with its metrics port, and how to reach it."""

    process: ServeProcess
    folder: Path
    env: dict[str, str]

    @property
    def metrics_port(self) -> int:
        return self.process.port("metrics")

    @property
    def tls(self) -> ssl.SSLContext:
        cert = self.folder / ".mailcmd" / "tls" / "dev-cert.pem"
        return ssl.create_default_context(cafile=str(cert))

    def submission(self) -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.process.port("submission"), timeout=TIMEOUT)
        client.starttls(context=self.tls)
        return client

    def samples(self) -> Samples:
        """Every sample of one scrape of `/metrics`, by name and labels."""
        status, body = get(self.metrics_port, "/metrics")
        assert status == 200
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
        }


def get(port: int, path: str) -> tuple[int, bytes]:
    """GET `path` with urllib; the status and body, whatever the status."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("metrics")
    with scratch_database_url(folder / ".mailcmd") as url:
        env = clean_environment(
            MAILCMD_DATABASE_URL=url,
            MAILCMD_STATE_DIR=str(folder / ".mailcmd"),
            MAILCMD_IMAP__TLS_PORT="0",
            MAILCMD_METRICS__PORT="0",
            MAILCMD_METRICS__TIMEOUT=str(REQUEST_SECONDS),
        )
        cli = Cli(env={"MAILCMD_DATABASE_URL": url, "MAILCMD_STATE_DIR": env["MAILCMD_STATE_DIR"]})
        assert cli("db", "upgrade").exit_code == 0
        assert cli("users", "add", ALICE, "--password-stdin", input=PASSWORD).exit_code == 0
        with serve_process([*mailcmd_command(), "serve"], cwd=folder, env=env) as process:
            yield Served(process=process, folder=folder, env=env)
            assert process.stop(signal.SIGTERM) == 0


def test_a_command_mail_is_counted_received_then_processed_done(served: Served) -> None:
    before = served.samples()
    mail = EmailMessage()
    mail["From"] = ALICE
    mail["To"] = "tasks@app.localhost"
    mail["Subject"] = "add Buy milk"
    mail.set_content("")
    with served.submission() as client:
        client.login(ALICE, PASSWORD)
        client.send_message(mail)

    def processed() -> Samples | None:
        samples = served.samples()
        done = value(samples, "mailcmd_messages_processed_total", outcome="done")
        return (
            samples
            if done > value(before, "mailcmd_messages_processed_total", outcome="done")
            else None
        )

    after = wait_until(processed, "the message counted as processed")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("mailcmd_messages_received_total", port="submission") == 1
    assert grew("mailcmd_messages_processed_total", outcome="done") == 1
    assert grew("mailcmd_smtp_transactions_total", port="submission", code_class="2xx") == 1
    assert grew("mailcmd_smtp_connections_total", port="submission") == 1
    assert grew("mailcmd_handler_duration_seconds_count", mailbox="tasks", verb="add") == 1
    assert grew("mailcmd_reply_latency_seconds_count") == 1
    # The reply went to alice's INBOX in the same commit: nothing waits anywhere.
    for status in ("queued", "processing", "deferred", "failed"):
        assert (("mailcmd_inbound_queue_messages", frozenset({("status", status)}))) in after
        assert value(after, "mailcmd_outbox_messages", status=status) == 0
    assert value(after, "process_open_fds") > 0


def test_a_refused_recipient_is_a_5xx_transaction(served: Served) -> None:
    before = served.samples()
    with served.submission() as client:
        client.login(ALICE, PASSWORD)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail(ALICE, ["nobody@app.localhost"], b"Subject: hi\r\n\r\nhi\r\n")
    after = served.samples()

    name = "mailcmd_smtp_transactions_total"
    grown = value(after, name, port="submission", code_class="5xx") - value(
        before, name, port="submission", code_class="5xx"
    )
    assert grown == 1


def test_a_wrong_password_is_counted_as_an_auth_failure(served: Served) -> None:
    before = value(served.samples(), "mailcmd_auth_failures_total")
    with served.submission() as client:
        # One attempt: `login` would try LOGIN after PLAIN.
        client.user, client.password = ALICE, "not the password"
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.auth("PLAIN", client.auth_plain)

    assert value(served.samples(), "mailcmd_auth_failures_total") == before + 1


def test_an_imap_session_is_counted_and_open_while_it_lasts(served: Served) -> None:
    before = served.samples()
    port = served.process.port("imaps")
    with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=served.tls, timeout=TIMEOUT) as imap:
        imap.login(ALICE, PASSWORD)
        during = served.samples()
        imap.logout()

    def grew(samples: Samples, name: str) -> float:
        return value(samples, name) - value(before, name)

    assert grew(during, "mailcmd_imap_sessions_total") == 1
    assert grew(during, "mailcmd_imap_sessions_open") == 1
    wait_until(
        lambda: grew(served.samples(), "mailcmd_imap_sessions_open") == 0, "the session closed"
    )


def test_healthz_is_200_while_the_database_answers_and_the_listeners_run(served: Served) -> None:
    assert get(served.metrics_port, "/healthz") == (200, b"ok\n")


def test_other_paths_are_404_and_other_methods_405(served: Served) -> None:
    posted = raw_http(served.metrics_port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")

    assert get(served.metrics_port, "/") == (404, b"not found\n")
    assert get(served.metrics_port, "/metrics/../etc/passwd")[0] == 404
    assert posted.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")


def test_a_head_over_the_limit_gets_431(served: Served) -> None:
    huge = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n"
    long = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"

    assert raw_http(served.metrics_port, huge).startswith(b"HTTP/1.1 431")
    assert raw_http(served.metrics_port, long).startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize("sent", [b"", b"GET /metrics HTTP/1.1\r\nHost: x\r\n"])
def test_a_client_that_stops_sending_is_cut_off(served: Served, sent: bytes) -> None:
    client = RawSocket(served.metrics_port)
    client.send(sent)

    # Well within the socket's own time-out: the listener closes first.
    assert client.closed_by_server()
    client.close()


def test_a_worker_process_is_a_scrape_target_of_its_own(served: Served) -> None:
    command = [*mailcmd_command(), "worker", "--metrics-port", "0"]
    with serve_process(command, cwd=served.folder, env=served.env) as worker:
        port = worker.port("metrics")
        health = get(port, "/healthz")
        status, body = get(port, "/metrics")
        assert worker.stop(signal.SIGTERM) == 0

    assert port != served.metrics_port
    assert health == (200, b"ok\n")
    assert status == 200
    assert b"\nmailcmd_messages_processed_total{" in body
    assert b"\nmailcmd_inbound_queue_messages{" in body


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_healthz_is_503_with_the_reason_when_something_is_down() -> None:
    engine = open_engine(f"postgresql://mailcmd@127.0.0.1:{closed_port()}/mailcmd")
    unreachable = Database(engine=engine, sessions=session_factory(engine))
    down: list[str] = []
    listener = MetricsListener(MetricsSettings(), 0, unreachable, lambda: down)
    await listener.start()
    port = int(listener.address.rsplit(":", 1)[1])
    try:
        database_down = await asyncio.to_thread(get, port, "/healthz")
        # The scrape still answers, without the depths it could not read.
        status, body = await asyncio.to_thread(get, port, "/metrics")
        down.append("submission")
        listener_down = await asyncio.to_thread(get, port, "/healthz")
    finally:
        await listener.stop()
        engine.dispose()

    assert database_down == (503, b"database: not answering (the log says why)\n")
    assert listener_down == (503, b"not listening: submission\n")
    assert status == 200
    assert b"mailcmd_messages_received_total" in body
    assert b"mailcmd_inbound_queue_messages" not in body


def test_a_bad_metrics_port_is_a_settings_error_naming_the_key(tmp_path: Path) -> None:
    cli = Cli(env={"MAILCMD_METRICS__PORT": "ninety", "MAILCMD_STATE_DIR": str(tmp_path)})

    result = cli("config", "show")

    assert result.exit_code == 2
    assert result.stderr.startswith(
        "mailcmd: environment variable MAILCMD_METRICS__PORT: metrics.port: "
    )
    assert len(result.stderr.splitlines()) == 1


def test_a_worker_metrics_port_out_of_range_is_refused_naming_the_option(tmp_path: Path) -> None:
    cli = Cli(env={"MAILCMD_STATE_DIR": str(tmp_path)})

    result = cli("worker", "--metrics-port", "70000")

    assert result.exit_code == 2
    assert "Invalid value for '--metrics-port'" in result.stderr
