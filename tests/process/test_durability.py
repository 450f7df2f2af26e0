"""`250` is a promise: acknowledged mail survives a crash, and a stop lets transactions finish."""

import re
import signal
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailcmd.smtp.replies import SmtpReplies
from tests.conftest import ALICE, PASSWORD, Cli, StartServer
from tests.servers import (
    TIMEOUT,
    RawClient,
    ServeProcess,
    clean_environment,
    mailcmd_command,
    serve_process,
)
from tests.smtp.test_smtp_submission import plain, reply_of, stored_messages

pytestmark = pytest.mark.slow

CLIENTS = 8
MESSAGES_PER_CLIENT = 25
# The server is killed once this many messages have been acknowledged.
ACKS_BEFORE_KILL = 40
# Logins checked while another client keeps storing mail.
LOGINS = 10
# The `250` that promises a message is stored, with its queue id captured.
QUEUED = re.compile(re.escape(str(SmtpReplies.QUEUED)).replace(re.escape("{queue_id}"), r"(\d+)"))


@dataclass
class Installation:
    """One mailcmd installation on disk: its database, state folder, and its running server."""

    folder: Path
    env: dict[str, str]
    served: ServeProcess | None = None

    @property
    def tls_context(self) -> ssl.SSLContext:
        """A client context that trusts the installation's development certificate."""
        cert = Path(self.env["MAILCMD_STATE_DIR"]) / "tls" / "dev-cert.pem"
        return ssl.create_default_context(cafile=str(cert))

    @contextmanager
    def serve(self) -> Iterator[ServeProcess]:
        """`mailcmd serve` on this installation, running until the block ends."""
        with serve_process([*mailcmd_command(), "serve"], cwd=self.folder, env=self.env) as served:
            self.served = served
            yield served

    def port(self, name: str) -> int:
        """The port the listener `name` of the server started last is bound to."""
        assert self.served is not None, "the installation was never served"
        return self.served.port(name)


@pytest.fixture
def installation(accounts: Cli, tmp_path: Path) -> Installation:
    """An upgraded database holding alice, and the settings `mailcmd serve` will read."""
    env = clean_environment(
        MAILCMD_DATABASE_URL=accounts.env["MAILCMD_DATABASE_URL"],
        MAILCMD_STATE_DIR=accounts.env["MAILCMD_STATE_DIR"],
    )
    return Installation(folder=tmp_path, env=env)


def queue_id(reply: str) -> int | None:
    """The queue id a `250 ... queued as` reply promises; None for any other reply."""
    found = QUEUED.fullmatch(reply)
    return int(found.group(1)) if found else None


def message(client: int, number: int) -> bytes:
    """A message whose Message-ID and subject no other message of the test has."""
    return (
        f"From: {ALICE}\r\n"
        f"To: {ALICE}\r\n"
        f"Subject: durability {client}-{number}\r\n"
        f"Message-ID: <durability-{client}-{number}@client.test>\r\n"
        f"\r\n"
        f"Message {number} of client {client}.\r\n"
    ).encode()


@dataclass
class Acknowledged:
    """What clients were promised: each queue id with the message it was given for."""

    target: int
    reached: threading.Event = field(default_factory=threading.Event)
    messages: dict[int, bytes] = field(default_factory=dict)
    # Replies other than 250 that are not the connection going away; a crash cannot
    # produce those, so any here is a fault of the server.
    refusals: list[str] = field(default_factory=list)
    cut_off: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, queued: int, sent: bytes) -> None:
        with self._lock:
            if queued in self.messages:
                self.refusals.append(f"queue id {queued} given twice")
            self.messages[queued] = sent
            if len(self.messages) >= self.target:
                self.reached.set()

    def refused(self, reply: str) -> None:
        with self._lock:
            self.refusals.append(reply)

    def lost_connection(self) -> None:
        with self._lock:
            self.cut_off += 1


def connect(installation: Installation, implicit_tls: bool) -> smtplib.SMTP:
    """A client on the submissions port, or on the submission port after STARTTLS."""
    if implicit_tls:
        return smtplib.SMTP_SSL(
            "127.0.0.1",
            installation.port("submissions"),
            timeout=TIMEOUT,
            context=installation.tls_context,
        )
    smtp = smtplib.SMTP("127.0.0.1", installation.port("submission"), timeout=TIMEOUT)
    smtp.starttls(context=installation.tls_context)
    return smtp


def send_until_cut_off(installation: Installation, client: int, acked: Acknowledged) -> None:
    """Log in as alice and send messages one after another until the connection breaks.

    Even clients use the submission port, odd ones the submissions port.
    """
    try:
        with connect(installation, implicit_tls=client % 2 == 1) as smtp:
            smtp.login(ALICE, PASSWORD)
            for number in range(MESSAGES_PER_CLIENT):
                sent = message(client, number)
                smtp.mail(ALICE)
                smtp.rcpt(ALICE)
                code, text = smtp.data(sent)
                reply = f"{code} {text.decode()}"
                queued = queue_id(reply)
                if queued is None:
                    acked.refused(reply)
                    return
                acked.record(queued, sent)
    except smtplib.SMTPResponseException as error:
        if error.smtp_code == SmtpReplies.SHUTTING_DOWN.code:
            acked.lost_connection()
        else:
            acked.refused(f"{error.smtp_code} {error.smtp_error.decode()}")
    except (smtplib.SMTPServerDisconnected, OSError):
        acked.lost_connection()


def test_every_acknowledged_message_survives_sigkill(installation: Installation) -> None:
    acked = Acknowledged(target=ACKS_BEFORE_KILL)
    clients = [
        threading.Thread(
            target=send_until_cut_off, args=(installation, client, acked), name=f"client-{client}"
        )
        for client in range(CLIENTS)
    ]

    with installation.serve() as served:
        for thread in clients:
            thread.start()
        reached = acked.reached.wait(TIMEOUT)
        served.process.kill()
        served.process.wait(TIMEOUT)
        for thread in clients:
            thread.join(TIMEOUT)

    assert reached, f"only {len(acked.messages)} messages acknowledged"
    assert not any(thread.is_alive() for thread in clients)
    assert acked.refusals == []
    assert acked.cut_off > 0, "every client had finished before the kill"

    with installation.serve() as restarted:
        stored = {row.id: row for row in stored_messages(installation.env["MAILCMD_DATABASE_URL"])}
        for queued, sent in acked.messages.items():
            assert queued in stored, f"acknowledged message {queued} is lost"
            row = stored[queued]
            assert row.raw.endswith(sent), f"message {queued} is not stored as sent"
            assert (row.mail_from, row.rcpt_tos) == (ALICE, [ALICE])
        for sent in acked.messages.values():
            message_id = sent.split(b"Message-ID: ")[1].split(b"\r\n")[0]
            copies = [row.id for row in stored.values() if message_id in row.raw]
            assert len(copies) == 1, f"{message_id!r} is stored as {copies}"

        after = message(CLIENTS, 0)
        with connect(installation, implicit_tls=False) as smtp:
            smtp.login(ALICE, PASSWORD)
            smtp.mail(ALICE)
            smtp.rcpt(ALICE)
            code, text = smtp.data(after)
        queued = queue_id(f"{code} {text.decode()}")
        assert queued is not None, text
        [row] = [
            row
            for row in stored_messages(installation.env["MAILCMD_DATABASE_URL"])
            if row.id == queued
        ]
        assert row.raw.endswith(after)
        assert restarted.stop(signal.SIGTERM) == 0


def logged_in_client(installation: Installation) -> RawClient:
    """A raw client on the submission port after STARTTLS and AUTH as alice."""
    client = RawClient(installation.port("submission"))
    assert client.reply().startswith("220 ")
    assert client.command("EHLO client.test").startswith("250")
    assert client.command("STARTTLS").startswith("220 ")
    client.starttls(installation.tls_context)
    assert client.command("EHLO client.test").startswith("250")
    assert client.command("AUTH PLAIN " + plain(ALICE, PASSWORD)) == str(SmtpReplies.AUTH_OK)
    return client


def wait_until_refused(port: int) -> None:
    """Return once a new connection to `port` is refused: the server has begun to stop."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        assert time.monotonic() < deadline, f"port {port} still accepts connections"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as probe:
                # Waiting for the greeting paces the probes by the server's own pace;
                # a probe accepted as the server stops may get none until the grace
                # period ends, so it is given up on after a second.
                probe.settimeout(1.0)
                probe.recv(1024)
        except ConnectionRefusedError:
            return
        except (ConnectionResetError, TimeoutError):
            continue


def exit_code(served: ServeProcess) -> int:
    """The exit code of a `mailcmd serve` that was asked to stop."""
    return served.process.wait(TIMEOUT)


def test_transaction_in_flight_at_sigterm_finishes_then_the_connection_closes(
    installation: Installation,
) -> None:
    head = (
        f"From: {ALICE}\r\nTo: {ALICE}\r\nSubject: graceful\r\n"
        "Message-ID: <graceful@client.test>\r\n\r\nFirst half,\r\n"
    ).encode()
    tail = b"and the second half, sent after SIGTERM.\r\n"

    with installation.serve() as served:
        client = logged_in_client(installation)
        assert client.command(f"MAIL FROM:<{ALICE}>") == str(SmtpReplies.SENDER_OK)
        assert client.command(f"RCPT TO:<{ALICE}>") == str(SmtpReplies.RECIPIENT_OK)
        assert client.command("DATA").startswith("354 ")
        client.send(head)

        served.process.send_signal(signal.SIGTERM)
        wait_until_refused(installation.port("submission"))
        client.send(tail + b".\r\n")
        queued = client.reply()
        closing = client.reply()
        closed = client.closed_by_server()
        client.close()
        code = exit_code(served)

    assert queue_id(queued) is not None, queued
    assert closing == str(SmtpReplies.SHUTTING_DOWN)
    assert closed
    assert code == 0
    [row] = stored_messages(installation.env["MAILCMD_DATABASE_URL"])
    assert row.id == queue_id(queued)
    assert row.raw.endswith(head + tail)


def test_idle_clients_at_sigterm_hear_421_and_are_disconnected(
    installation: Installation,
) -> None:
    with installation.serve() as served:
        submission = RawClient(installation.port("submission"))
        assert submission.reply().startswith("220 ")
        assert submission.command("EHLO client.test").startswith("250")
        submissions = RawClient(
            installation.port("submissions"), tls_context=installation.tls_context
        )
        assert submissions.reply().startswith("220 ")
        assert submissions.command("EHLO client.test").startswith("250")

        served.process.send_signal(signal.SIGTERM)
        heard = [client.reply() for client in (submission, submissions)]
        closed = [client.closed_by_server() for client in (submission, submissions)]
        for client in (submission, submissions):
            client.close()
        code = exit_code(served)

    assert heard == [str(SmtpReplies.SHUTTING_DOWN)] * 2
    assert closed == [True, True]
    assert code == 0


def test_logins_succeed_while_messages_are_being_stored(start_server: StartServer) -> None:
    # Without the cache every login checks the password and records the login in the
    # database, while the other client's messages are being committed (more of them
    # than one account may send in an hour by default).
    server = start_server(auth={"cache_seconds": 0}, account_message_rate_limit=10_000)
    sending, logins_done = threading.Event(), threading.Event()
    problems: list[str] = []

    def send() -> None:
        try:
            client = server.submission()
            client.login(ALICE, PASSWORD)
            for number in range(2000):
                if logins_done.is_set():
                    return
                client.sendmail(ALICE, [ALICE], message(0, number))
                sending.set()
            problems.append("the sender ran out of messages before the logins were done")
        except smtplib.SMTPException as error:
            problems.append(repr(error))

    sender = threading.Thread(target=send, name="sender")
    sender.start()
    try:
        assert sending.wait(TIMEOUT), problems
        replies = []
        for _ in range(LOGINS):
            client = server.submission()
            replies.append(reply_of(client.docmd("AUTH", "PLAIN " + plain(ALICE, PASSWORD))))
            client.quit()
    finally:
        logins_done.set()
        sender.join(TIMEOUT)

    assert replies == [str(SmtpReplies.AUTH_OK)] * LOGINS
    assert problems == []
    assert not sender.is_alive()
