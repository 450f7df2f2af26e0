"""The MX port's bounds: slow DNS of a sender holds up no one else; big mail costs memory once."""

import imaplib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mailcmd.identity.authenticity import DnsResolver
from mailcmd.settings import MIB
from mailcmd.smtp.replies import SmtpReplies
from tests.conftest import ALICE, PASSWORD, Cli
from tests.dns_stub import dns_stub
from tests.servers import (
    TIMEOUT,
    RawClient,
    ServeProcess,
    clean_environment,
    mailcmd_command,
    running_server,
    serve_process,
    smtp_settings,
    wait_until,
)
from tests.smtp.test_smtp_submission import stored_messages

# Mail from a domain whose DNS servers never answer, sent at once by one client.
SILENT_DOMAIN = "silent.test"
SILENT_MAILS = 12
CHECK_SECONDS = 2.0
CHECKS_PER_CLIENT = 2
# What a logged-in user may wait for a submission's 250, or a LOGIN and SELECT.
PROMPT_SECONDS = 1.0
# The MX port's checks after their budget: giving the verdict and storing.
CHECK_SLACK_SECONDS = 2.0

BIG_MAILS = 8
MAX_MESSAGE_SIZE = 25 * MIB
# Serving them may cost this many times their total size at the peak...
PEAK_RATIO = 2.0
# ...and must give all back but this many bytes.
KEPT_BYTES = 50 * MIB


def mx_transaction(port: int, sender: str, message: bytes) -> str:
    """Send `message` to alice through the MX port; return the reply to its DATA."""
    client = RawClient(port)
    try:
        client.reply()
        client.command("EHLO mx.example.org")
        assert client.command(f"MAIL FROM:<{sender}>") == str(SmtpReplies.SENDER_OK)
        assert client.command(f"RCPT TO:<{ALICE}>") == str(SmtpReplies.RECIPIENT_OK)
        client.command("DATA")
        client.send(message + b"\r\n.\r\n")
        return client.reply()
    finally:
        client.close()


def silent_mail(number: int) -> bytes:
    return f"From: someone@{SILENT_DOMAIN}\r\nSubject: slow {number}\r\n\r\nHello\r\n".encode()


def judge_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("mailcmd-judge"))


def test_mail_whose_dns_never_answers_holds_up_no_logged_in_user(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    settings = smtp_settings(
        tmp_path / "state",
        database_url,
        mx_port=0,
        mx_check_seconds=CHECK_SECONDS,
        mx_checks_per_client=CHECKS_PER_CLIENT,
    )
    with (
        dns_stub({}, silent=[SILENT_DOMAIN]) as stub,
        running_server(settings, resolver=DnsResolver(stub.address)) as running,
        ThreadPoolExecutor(SILENT_MAILS) as senders,
    ):
        started = time.monotonic()
        sent = [
            senders.submit(mx_transaction, running.port("mx"), f"someone@{SILENT_DOMAIN}", mail)
            for mail in map(silent_mail, range(SILENT_MAILS))
        ]
        wait_until(lambda: stub.queries, "the MX checks ask the silent domain's DNS")

        submitting = time.monotonic()
        client = running.submission()
        client.login(ALICE, PASSWORD)
        client.sendmail(ALICE, [ALICE], f"From: {ALICE}\r\nSubject: add Milk\r\n\r\nHi\r\n")
        submitted = time.monotonic() - submitting
        reading = time.monotonic()
        mailbox = imaplib.IMAP4_SSL(
            "127.0.0.1", running.port("imaps"), ssl_context=running.tls_client_context
        )
        mailbox.login(ALICE, PASSWORD)
        mailbox.select("INBOX")
        read = time.monotonic() - reading
        mailbox.logout()
        threads_at_most = judge_threads()

        replies = [reply.result(TIMEOUT) for reply in sent]
        judged = time.monotonic() - started

    assert submitted < PROMPT_SECONDS
    assert read < PROMPT_SECONDS
    assert threads_at_most <= CHECKS_PER_CLIENT
    # Two at a time, each within its budget counted from its own end of DATA.
    assert judged < CHECK_SECONDS + CHECK_SLACK_SECONDS
    assert all(reply.startswith("250 2.0.0 ") for reply in replies)
    from_mx = [stored for stored in stored_messages(database_url) if stored.account_id is None]
    assert len(from_mx) == SILENT_MAILS
    assert all("spf=temperror" in (stored.authentication_results or "") for stored in from_mx)
    assert all(stored.verified_from is None for stored in from_mx)


def memory(pid: int) -> dict[str, int]:
    """The process's resident memory now (VmRSS) and at its peak (VmHWM), in bytes."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return found


@pytest.fixture
def mx_process(accounts: Cli, tmp_path: Path) -> Iterator[tuple[ServeProcess, int]]:
    """`mailcmd serve --no-worker` with the MX port on; yields it and the port."""
    env = clean_environment(
        MAILCMD_DATABASE_URL=accounts.env["MAILCMD_DATABASE_URL"],
        MAILCMD_STATE_DIR=accounts.env["MAILCMD_STATE_DIR"],
        MAILCMD_DOMAIN="app.localhost",
        MAILCMD_SMTP__MX_PORT="0",
        MAILCMD_SMTP__MAX_MESSAGE_SIZE=str(MAX_MESSAGE_SIZE),
    )
    with dns_stub({}) as stub:
        env["MAILCMD_DNS_RESOLVER"] = stub.address
        command = [*mailcmd_command(), "serve", "--no-worker"]
        with serve_process(command, cwd=tmp_path, env=env) as served:
            yield served, served.port("mx")


def big_mail() -> bytes:
    head = b"From: someone@example.org\r\nTo: alice@app.localhost\r\nSubject: big\r\n\r\n"
    line = b"x" * 76 + b"\r\n"
    # Just under the limit once the server's trace fields are added.
    return head + line * ((MAX_MESSAGE_SIZE - len(head) - 4096) // len(line))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_eight_maximum_size_mails_cost_twice_their_size_at_most_and_give_it_back(
    mx_process: tuple[ServeProcess, int],
) -> None:
    served, port = mx_process
    pid = served.process.pid
    # The first message loads what every message needs (modules, statements).
    assert mx_transaction(port, "someone@example.org", b"Subject: warm\r\n\r\nup\r\n")[:3] == "250"
    before = memory(pid)["VmRSS"]
    mail = big_mail()

    with ThreadPoolExecutor(BIG_MAILS) as senders:
        sent = [
            senders.submit(mx_transaction, port, "someone@example.org", mail)
            for _ in range(BIG_MAILS)
        ]
        replies = [reply.result(TIMEOUT * 2) for reply in sent]
    after = memory(pid)

    assert all(reply.startswith("250 2.0.0 ") for reply in replies)
    total = BIG_MAILS * len(mail)
    assert after["VmHWM"] - before <= PEAK_RATIO * total
    assert after["VmRSS"] - before <= KEPT_BYTES
