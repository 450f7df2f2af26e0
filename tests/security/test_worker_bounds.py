"""The worker's capacity: a handler that never returns stops holding a thread once given up on."""

import smtplib
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from mailcmd.db.models import InboundMessage, QueueStatus
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE, LAB_COMMANDS, LAB_NOTES, LAB_TEMPLATES, PASSWORD, lab_notes
from tests.servers import TIMEOUT, wait_until

LAB = "lab@app.localhost"
CONCURRENCY = 2
HANDLER_TIMEOUT = 0.5
# A normal command after the runaways gets its reply within this many seconds:
# one time limit for a runaway still in hand, and room for a slow machine.
REPLY_BOUND = HANDLER_TIMEOUT + 3.0
# The server stops within this many seconds with a runaway in hand: it waits for
# the runaway's time limit, never for a runaway's thread.
STOP_BOUND = HANDLER_TIMEOUT + 1.0


def handler_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("mailcmd-handler"))


def runaway_lab(database_url: str, tmp_path: Path) -> MailTestClient:
    """The lab app, not yet started, with a short time limit and no retries."""
    return MailTestClient(
        LAB_COMMANDS,
        tmp_path / "lab",
        database_url=database_url,
        templates=LAB_TEMPLATES,
        settings={
            "worker": {
                "concurrency": CONCURRENCY,
                "handler_timeout": HANDLER_TIMEOUT,
                "max_attempts": 1,
                "poll_seconds": 0.05,
            }
        },
    )


@contextmanager
def started(client: MailTestClient, stop: bool = True) -> Iterator[MailTestClient]:
    """Run `client` with the lab's table and alice; stopped at the end if `stop`."""
    client.__enter__()
    stopped = False
    try:
        LAB_NOTES.create(client.database.engine)
        client.add_account(ALICE, password=PASSWORD)
        yield client
    except BaseException:
        client.__exit__(None, None, None)
        stopped = True
        raise
    finally:
        if stop and not stopped:
            client.__exit__(None, None, None)


def test_runaway_handlers_are_given_up_on_and_stop_holding_threads(
    database_url: str, tmp_path: Path
) -> None:
    # Twice the pool and one more, all at once: before, each runaway kept a thread.
    runaways = ["spin", "doze"] * CONCURRENCY + ["spin"]

    with started(runaway_lab(database_url, tmp_path)) as lab:
        before = handler_threads()
        with ThreadPoolExecutor(len(runaways)) as senders:
            exchanges = list(senders.map(lambda subject: lab.send(LAB, subject), runaways))
        sent_at = time.monotonic()
        normal = lab.send(LAB, "echo --words still")
        waited = time.monotonic() - sent_at
        notes = lab_notes(lab)
        wait_until(lambda: handler_threads() == CONCURRENCY, "runaway threads to end")

    assert before == CONCURRENCY
    for exchange in exchanges:
        assert exchange.outcome is not None
        assert exchange.outcome.status == "failed"
        assert exchange.reply["Subject"] == "Sorry, your message could not be processed"
    assert normal.reply["Subject"] == "Echo: still"
    assert waited < REPLY_BOUND
    # What the runaways wrote was rolled back, and their threads have ended.
    assert notes == []


def test_the_server_stops_within_a_bound_while_a_handler_runs_away(
    database_url: str, tmp_path: Path
) -> None:
    lab = runaway_lab(database_url, tmp_path)
    with started(lab, stop=False):
        lab.send(LAB, "spin")  # given up on, and stopped from outside
        submit_without_waiting(lab, "doze")
        wait_until(lambda: processing(lab), "the second runaway to be claimed")
        stopping_at = time.monotonic()
        lab.__exit__(None, None, None)
        stopped = time.monotonic() - stopping_at

    assert stopped < STOP_BOUND
    wait_until(lambda: handler_threads() == 0, "every handler thread to end")


def submit_without_waiting(client: MailTestClient, subject: str) -> None:
    """Submit a command as alice and return at the 250, not waiting for the worker.

    (`send` waits and then reads the replies: after the client stops, its database
    is closed, and a connection used then would be left open.)
    """
    cert = client.settings.state_dir / "tls" / "dev-cert.pem"
    context = ssl.create_default_context(cafile=str(cert))
    port = client.ports["submissions"]
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as smtp:
        smtp.login(ALICE, PASSWORD)
        smtp.sendmail(ALICE, [LAB], f"From: {ALICE}\r\nTo: {LAB}\r\nSubject: {subject}\r\n\r\n")


def processing(client: MailTestClient) -> int:
    with client.database.sessions() as session:
        query = select(func.count()).where(InboundMessage.status == QueueStatus.PROCESSING)
        return session.scalar(query) or 0
