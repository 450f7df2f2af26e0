"""Alerts: the admin accounts hear, by mail and at most once an hour per kind, about trouble.

The server's alerter checks on its own every `alerts.check_seconds`; these tests set
that to an hour, so that only the checks they make themselves (with the same
`Alerter`, on the same database) decide what is sent when.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from mailcmd.addressing.reply_key_file import ReplyKeyFile
from mailcmd.app.loading import template_folders
from mailcmd.app.rendering import Renderer
from mailcmd.db.database import Database
from mailcmd.db.models import (
    Account,
    Alert,
    InboundMessage,
    MailFolder,
    MailMessage,
    OutboundMessage,
    QueueStatus,
)
from mailcmd.db.types import utc_now
from mailcmd.imap.mailstore import INBOX
from mailcmd.operations.alerts import ALERT_INTERVAL, Alerter, AlertKind
from mailcmd.settings import AlertSettings, Settings
from mailcmd.testing import MailTestClient, plain_text
from tests.conftest import ALICE, LAB_COMMANDS, LAB_TEMPLATES, PASSWORD, Cli, StartServer
from tests.servers import TIMEOUT, Sink, wait_until

ADMIN = "admin@app.localhost"
STRANGER = "someone@example.org"
# The server's own checks wait an hour: the tests make theirs.
QUIET = {"check_seconds": 3600.0}


def alerter(settings: Settings, database: Database, **alerts: Any) -> Alerter:
    """An alerter like the server's, on its database, with `alerts` settings."""
    return Alerter(
        database,
        Renderer(template_folders(settings.templates)),
        ReplyKeyFile(settings.state_dir).keys,
        AlertSettings(**{**QUIET, **alerts}),
        domain=settings.domain,
    )


def inbox_of(database: Database, login: str) -> list[EmailMessage]:
    with database.sessions() as session:
        raws = session.scalars(
            select(MailMessage.raw)
            .join(MailFolder)
            .join(Account, Account.id == MailFolder.account_id)
            .where(MailFolder.name == INBOX, Account.login == login)
            .order_by(MailMessage.uid)
        ).all()
    parsed = [message_from_bytes(raw, policy=policy.default) for raw in raws]
    return [message for message in parsed if isinstance(message, EmailMessage)]


def alerts_in(database: Database, login: str) -> list[EmailMessage]:
    return [
        mail for mail in inbox_of(database, login) if mail["From"] == "postmaster@app.localhost"
    ]


@pytest.fixture
def lab_settings() -> dict[str, Any]:
    return {"worker": {"max_attempts": 1}, "alerts": QUIET}


@pytest.fixture
def admin_lab(lab: MailTestClient) -> MailTestClient:
    lab.add_account(ADMIN, password=PASSWORD, roles=["admin"])
    return lab


def test_a_message_that_fails_for_good_alerts_the_admins_once_an_hour(
    admin_lab: MailTestClient,
) -> None:
    lab = admin_lab
    first = lab.send("lab@app.localhost", "crash", login=ALICE)
    checks = alerter(lab.settings, lab.database)

    sent = checks.check()
    lab.send("lab@app.localhost", "crash", login=ALICE)
    again = alerter(lab.settings, lab.database).check()

    assert first.outcome.status == "failed"
    assert sent == [AlertKind.FAILED_MESSAGES]
    assert again == []
    [alert] = alerts_in(lab.database, ADMIN)
    assert alert["Subject"] == "alert: 1 inbound message failed for good"
    assert alert["To"] == ADMIN
    assert alert["Auto-Submitted"] == "auto-generated"
    text = plain_text(alert)
    with lab.database.sessions() as session:
        trace_id = session.scalar(
            select(InboundMessage.trace_id).where(InboundMessage.id == first.queue_id)
        )
    assert trace_id
    assert f"- queue {first.queue_id} trace {trace_id}: ref=" in text
    assert "RuntimeError: internal detail that must not reach the sender" in text
    assert f"(mailcmd queue show {first.queue_id})" in text
    # Only admins hear of it.
    assert alerts_in(lab.database, ALICE) == []


def test_failures_held_back_within_the_hour_come_in_the_next_alert(
    admin_lab: MailTestClient,
) -> None:
    lab = admin_lab
    lab.send("lab@app.localhost", "crash", login=ALICE)
    assert alerter(lab.settings, lab.database).check() == [AlertKind.FAILED_MESSAGES]
    later = [lab.send("lab@app.localhost", "crash", login=ALICE) for _ in range(2)]
    with lab.database.writing() as session:
        # The hour has passed.
        session.execute(update(Alert).values(last_sent_at=utc_now() - ALERT_INTERVAL))
        session.commit()

    assert alerter(lab.settings, lab.database).check() == [AlertKind.FAILED_MESSAGES]

    newest = alerts_in(lab.database, ADMIN)[-1]
    assert newest["Subject"] == "alert: 2 inbound messages failed for good"
    text = plain_text(newest)
    assert all(f"- queue {exchange.queue_id} trace " in text for exchange in later)


def test_without_admins_an_alert_is_a_warning_in_the_log(
    lab: MailTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    failed = lab.send("lab@app.localhost", "crash")

    with caplog.at_level(logging.WARNING, logger="mailcmd.operations.alerts"):
        sent = alerter(lab.settings, lab.database).check()

    assert sent == [AlertKind.FAILED_MESSAGES]
    [record] = [entry for entry in caplog.records if entry.name == "mailcmd.operations.alerts"]
    assert record.getMessage().startswith(
        "alert (no account has the role admin to mail it to): 1 inbound message failed for good;"
        f" queue {failed.queue_id} trace "
    )
    assert alerts_in(lab.database, ALICE) == []


def test_a_delivery_the_relay_refuses_for_good_alerts_the_admins(
    tmp_path: Path, database_url: str, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    handler.answers = ["550 5.1.1 no such user here"]
    relay = {"host": "127.0.0.1", "port": port, "starttls": "off"}
    with MailTestClient(
        LAB_COMMANDS,
        tmp_path / "relay",
        database_url=database_url,
        templates=LAB_TEMPLATES,
        settings={"relay": relay, "alerts": QUIET},
    ) as mail:
        mail.add_account(ADMIN, password=PASSWORD, roles=["admin"])
        mail.send("public@app.localhost", "ping", login="", sender=STRANGER)
        mail.deliver()
        with mail.database.sessions() as session:
            [(outbox_id, rcpt_tos)] = session.execute(
                select(OutboundMessage.id, OutboundMessage.rcpt_tos).where(
                    OutboundMessage.status == QueueStatus.FAILED
                )
            ).all()

        sent = alerter(mail.settings, mail.database).check()

        [alert] = alerts_in(mail.database, ADMIN)

    assert rcpt_tos == [STRANGER]
    assert sent == [AlertKind.FAILED_DELIVERIES]
    assert alert["Subject"] == "alert: 1 outgoing message could not be delivered"
    text = plain_text(alert)
    assert f"- outbox {outbox_id} trace " in text
    assert (f": {STRANGER}: 550 5.1.1 no such user here (mailcmd outbox show {outbox_id})") in text


def test_a_queue_that_stays_behind_alerts_the_admins(
    start_server: StartServer, accounts: Cli, database_url: str
) -> None:
    made = accounts("users", "add", ADMIN, "--role", "admin", "--password-stdin", input=PASSWORD)
    assert made.exit_code == 0, made.stderr
    # A receiver without a worker: what it accepts waits in the queue.
    server = start_server()
    client = server.submission()
    client.login(ALICE, PASSWORD)
    client.sendmail(ALICE, ["tasks@app.localhost"], b"Subject: list\r\n\r\n\r\n")
    checks = alerter(server.settings, server.server.database, queue_delay_minutes=0.001)

    sent = wait_until(checks.check, "the queue-behind alert")

    assert sent == [AlertKind.QUEUE_BEHIND]
    [alert] = alerts_in(server.server.database, ADMIN)
    assert str(alert["Subject"]).startswith(
        "alert: the inbound queue is behind: 1 message waiting longer than 0.001 minutes"
    )
    assert "(mailcmd queue show " in plain_text(alert)


@pytest.mark.parametrize(
    "lab_settings", [{"worker": {"max_attempts": 1}, "alerts": {"check_seconds": 0.1}}]
)
def test_the_running_server_checks_for_alerts_on_its_own(admin_lab: MailTestClient) -> None:
    failed = admin_lab.send("lab@app.localhost", "crash", login=ALICE)

    [alert] = wait_until(lambda: alerts_in(admin_lab.database, ADMIN), "an alert in the INBOX")

    assert f"(mailcmd queue show {failed.queue_id})" in plain_text(alert)


def test_two_workers_checking_at_once_send_one_alert(admin_lab: MailTestClient) -> None:
    admin_lab.send("lab@app.localhost", "crash", login=ALICE)
    checks = [alerter(admin_lab.settings, admin_lab.database) for _ in range(2)]
    start = threading.Barrier(len(checks))

    def check(alerts: Alerter) -> list[AlertKind]:
        start.wait(TIMEOUT)
        return alerts.check()

    with ThreadPoolExecutor(len(checks)) as pool:
        sent = list(pool.map(check, checks))

    assert sorted(sent) == [[], [AlertKind.FAILED_MESSAGES]]
    assert len(alerts_in(admin_lab.database, ADMIN)) == 1
