"""Retention: what `queue purge`, `outbox purge` and the daily job remove, and what never."""

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from mailcmd.addressing.reply_keys import ReplyKeys
from mailcmd.app.loading import template_folders
from mailcmd.app.rendering import Renderer
from mailcmd.app.resources import bundled_path
from mailcmd.db.database import Database, open_database
from mailcmd.db.models import (
    Confirmation,
    InboundMessage,
    MailMessage,
    OutboundMessage,
    ProcessedMessage,
    QueueStatus,
    ScheduleRun,
)
from mailcmd.db.types import utc_now
from mailcmd.operations.retention import BATCH_ROWS, PURGE_JOB_NAME, outbox_kinds, purge, purge_job
from mailcmd.runtime.scheduler import Scheduler
from mailcmd.settings import RetentionSettings
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE, PASSWORD, Cli
from tests.imap_support import deliver, finish_idle, idling, raw_imap
from tests.servers import (
    TIMEOUT,
    RunningServer,
    clean_environment,
    mailcmd_command,
    running_server,
    smtp_settings,
)

DAY = timedelta(days=1)


@pytest.fixture
def database(cli: Cli, database_url: str) -> Iterator[Database]:
    """The test's database, upgraded as `mailcmd db upgrade` leaves it."""
    opened = open_database(database_url)
    yield opened
    opened.close()


def inbound(status: QueueStatus, age: timedelta, raw: bytes = b"Subject: x\r\n\r\nhi\r\n") -> Any:
    """An inbound row in `status` whose last attempt was `age` ago."""
    moment = utc_now() - age
    return InboundMessage(
        raw=raw,
        mail_from="bob@example.org",
        rcpt_tos=["tasks@app.localhost"],
        client_address="127.0.0.1",
        helo="client.test",
        size=len(raw),
        status=status,
        received_at=moment,
        next_attempt_at=moment,
    )


def outbound(status: QueueStatus, age: timedelta) -> OutboundMessage:
    """An outbox row in `status`, settled (or due) `age` ago."""
    moment = utc_now() - age
    return OutboundMessage(
        raw=b"Subject: reply\r\n\r\nok\r\n",
        mail_from="",
        rcpt_tos=["bob@example.org"],
        status=status,
        created_at=moment,
        next_attempt_at=moment,
    )


def add(database: Database, *rows: Any) -> list[int]:
    """Store `rows`; return their ids."""
    with database.writing() as session:
        session.add_all(rows)
        session.commit()
        return [row.id for row in rows]


def test_queue_purge_drops_old_finished_texts_and_never_touches_unfinished_messages(
    cli: Cli, database: Database
) -> None:
    old = 100 * DAY
    ids = add(
        database,
        inbound(QueueStatus.QUEUED, old),
        inbound(QueueStatus.PROCESSING, old),
        inbound(QueueStatus.DEFERRED, old),
        inbound(QueueStatus.DONE, old),
        inbound(QueueStatus.FAILED, old),
        inbound(QueueStatus.DONE, 6 * DAY),
    )
    queued, processing, deferred, done, failed, recent = ids

    dry = cli("queue", "purge", "--dry-run")
    with database.sessions() as session:
        before = {row.id: row.raw for row in session.scalars(select(InboundMessage))}
    purged = cli("queue", "purge")
    with database.sessions() as session:
        after = {row.id: row for row in session.scalars(select(InboundMessage))}

    assert dry.stdout.splitlines()[0] == (
        "inbound message texts (kept 7 days after processing): 2 would be dropped"
    )
    assert all(raw for raw in before.values())
    assert purged.stdout.splitlines()[0] == (
        "inbound message texts (kept 7 days after processing): 2 dropped"
    )
    assert [after[id].raw for id in (done, failed)] == [b"", b""]
    assert all(after[id].raw_dropped_at is not None for id in (done, failed))
    for kept in (queued, processing, deferred, recent):
        assert after[kept].raw == before[kept]
        assert after[kept].raw_dropped_at is None
    # The envelope and the outcome stay.
    assert after[done].mail_from == "bob@example.org"
    assert after[done].size == len(before[queued])
    assert after[done].status == QueueStatus.DONE


def test_queue_show_and_retry_say_the_text_was_dropped(cli: Cli, database: Database) -> None:
    (done,) = add(database, inbound(QueueStatus.DONE, 30 * DAY))
    cli("queue", "purge")

    shown = cli("queue", "show", str(done))
    raw = cli("queue", "show", str(done), "--raw")
    retried = cli("queue", "retry", str(done))

    assert shown.exit_code == 0
    record = shown.stdout.split("\n\n")[0]
    fields = dict(line.split(None, 1) for line in record.splitlines()[1:])
    assert fields["status"] == "done"
    assert fields["mail_from"] == "bob@example.org"
    assert fields["rcpt_tos"] == "tasks@app.localhost"
    assert fields["text"].startswith("dropped")
    assert "subject" not in fields
    assert raw.exit_code == 1
    assert raw.stderr.startswith(f"mailcmd: message {done}: its text was dropped at ")
    assert raw.stderr.endswith("only its envelope and outcome are kept\n")
    assert retried.exit_code == 1
    assert f"message {done} cannot run again: its text was dropped" in retried.stderr


def test_queue_purge_forgets_old_message_ids_and_closed_confirmations(
    cli: Cli, database: Database
) -> None:
    now = utc_now()
    with database.writing() as session:
        for key, age in (("old", 15 * DAY), ("recent", 13 * DAY)):
            session.add(
                ProcessedMessage(sender=ALICE, message_id=f"<{key}@x>", processed_at=now - age)
            )
        for mailbox, expired in (("gone", 4 * DAY), ("answerable", DAY), ("open", -DAY)):
            session.add(
                Confirmation(
                    mailbox=mailbox,
                    holder="a:1",
                    lines=[],
                    asked_on=(now - expired).date(),
                    expires_at=now - expired,
                )
            )
        session.commit()

    dry = cli("queue", "purge", "--dry-run")
    purged = cli("queue", "purge")
    with database.sessions() as session:
        message_ids = session.scalars(select(ProcessedMessage.message_id)).all()
        confirmations = session.scalars(select(Confirmation.mailbox)).all()

    assert dry.stdout.splitlines()[1:] == [
        "processed Message-IDs (kept 14 days): 1 would be deleted",
        "confirmations (kept 3 days after they expire): 1 would be deleted",
    ]
    assert purged.stdout.splitlines()[1:] == [
        "processed Message-IDs (kept 14 days): 1 deleted",
        "confirmations (kept 3 days after they expire): 1 deleted",
    ]
    assert message_ids == ["<recent@x>"]
    assert sorted(confirmations) == ["answerable", "open"]


def test_outbox_purge_deletes_old_delivered_and_failed_rows_only(
    cli: Cli, database: Database
) -> None:
    old = 100 * DAY
    ids = add(
        database,
        outbound(QueueStatus.QUEUED, old),
        outbound(QueueStatus.PROCESSING, old),
        outbound(QueueStatus.DEFERRED, old),
        outbound(QueueStatus.DONE, 8 * DAY),
        outbound(QueueStatus.DONE, 6 * DAY),
        outbound(QueueStatus.FAILED, 31 * DAY),
        outbound(QueueStatus.FAILED, 29 * DAY),
    )

    dry = cli("outbox", "purge", "--dry-run")
    with database.sessions() as session:
        before = session.scalars(select(OutboundMessage.id)).all()
    purged = cli("outbox", "purge")
    with database.sessions() as session:
        after = session.scalars(select(OutboundMessage.id).order_by(OutboundMessage.id)).all()

    assert dry.stdout == (
        "delivered outbox rows (kept 7 days): 1 would be deleted\n"
        "failed outbox rows (kept 30 days): 1 would be deleted\n"
    )
    assert sorted(before) == ids
    assert purged.stdout == (
        "delivered outbox rows (kept 7 days): 1 deleted\n"
        "failed outbox rows (kept 30 days): 1 deleted\n"
    )
    assert after == [ids[0], ids[1], ids[2], ids[4], ids[6]]


@pytest.mark.parametrize("status", ["queued", "processing", "deferred"])
def test_outbox_purge_refuses_mail_still_to_be_delivered(
    cli: Cli, database: Database, status: str
) -> None:
    (waiting,) = add(database, outbound(QueueStatus(status), 100 * DAY))

    result = cli("outbox", "purge", "--status", status, "--older-than", "1d")

    assert result.exit_code == 1
    assert result.stderr == (
        f"mailcmd: --status {status}: only done and failed messages are purged;"
        f" a {status} one is still to be delivered\n"
    )
    with database.sessions() as session:
        assert session.get(OutboundMessage, waiting) is not None


def test_purge_works_through_a_backlog_larger_than_one_batch(cli: Cli, database: Database) -> None:
    add(database, *(outbound(QueueStatus.DONE, 10 * DAY) for _ in range(1203)))

    purged = cli("outbox", "purge", "--status", "done")

    assert purged.stdout == "delivered outbox rows (kept 7 days): 1203 deleted\n"
    with database.sessions() as session:
        assert session.scalars(select(OutboundMessage.id)).all() == []


def test_a_stopping_purge_begins_no_further_batch(database: Database) -> None:
    add(database, *(outbound(QueueStatus.DONE, 10 * DAY) for _ in range(BATCH_ROWS + 3)))
    asked: list[bool] = []

    def stopping() -> bool:
        asked.append(True)
        return len(asked) > 1  # a stop comes during the first batch

    (counted,) = purge(
        database, outbox_kinds(RetentionSettings(failed_days=0), utc_now()), stopping
    )

    assert counted.rows == BATCH_ROWS
    with database.sessions() as session:
        assert len(session.scalars(select(OutboundMessage.id)).all()) == 3


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FAILED_DAYS", "-1", "retention.failed_days: Input should be greater than or equal to 0"),
        ("MESSAGE_ID_DAYS", "3", "retention.message_id_days: Value error, at least 5 days"),
        ("DELIVERED_DAYS", "2", "retention.delivered_days: Value error, at least 5 days"),
        ("SCHEDULE", "daily", "retention.schedule: Value error, bad cron expression 'daily'"),
    ],
)
def test_a_bad_retention_setting_is_one_line_naming_the_key(
    cli: Cli, variable: str, value: str, expected: str
) -> None:
    name = f"MAILCMD_RETENTION__{variable}"
    result = Cli(env={**cli.env, name: value})("queue", "purge", "--dry-run")

    assert result.exit_code == 2
    assert result.stderr.startswith(f"mailcmd: environment variable {name}: {expected}")
    assert len(result.stderr.splitlines()) == 1


def test_a_message_id_inside_the_loop_guards_window_is_remembered(
    cli: Cli, tmp_path: Path, database_url: str
) -> None:
    with MailTestClient(
        bundled_path("commands"), tmp_path / "state", database_url=database_url
    ) as mail:
        mail.add_account(ALICE, password=PASSWORD)
        # One mail, sent again as a client that never saw the 250 would.
        message = mail.compose("tasks@app.localhost", "add Buy milk", "", ALICE, None)
        first = mail.send("tasks@app.localhost", message=message)

        def age_and_resend(days: int) -> Any:
            with mail.database.writing() as session:
                session.execute(
                    update(ProcessedMessage).values(processed_at=utc_now() - days * DAY)
                )
                session.commit()
            cli("queue", "purge")
            return mail.send("tasks@app.localhost", message=message)

        inside = age_and_resend(13)
        outside = age_and_resend(15)

    assert [reply["Subject"] for reply in first.replies] == ["Task 1 added: Buy milk"]
    assert inside.replies == []
    assert inside.outcome is not None
    assert inside.outcome.detail == "ignored: Message-ID seen before"
    assert [reply["Subject"] for reply in outside.replies] == ["Task 2 added: Buy milk"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_scheduled_purge_runs_once_when_two_workers_reach_its_slot(
    database: Database,
) -> None:
    (done,) = add(database, outbound(QueueStatus.DONE, 10 * DAY))
    url = database.engine.url.render_as_string(hide_password=False)
    clock = Clock(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    opened = [open_database(url) for _ in range(2)]
    renderer = Renderer(template_folders(bundled_path("templates")))
    workers = [
        Scheduler(
            {PURGE_JOB_NAME: purge_job(worker_database, RetentionSettings())},
            worker_database,
            renderer,
            lambda: ReplyKeys([b"k" * 32]),
            domain="app.localhost",
            zone=ZoneInfo("UTC"),
            poll_seconds=1,
            clock=clock,
        )
        for worker_database in opened
    ]
    workers[0].run_due()  # seen for the first time: it waits for its next slot
    clock.now = datetime(2026, 12, 1, 3, 30, 2, tzinfo=UTC)
    start = threading.Barrier(2)
    ran: list[list[str]] = []

    def work(scheduler: Scheduler) -> None:
        start.wait(TIMEOUT)
        ran.append(scheduler.run_due())

    threads = [threading.Thread(target=work, args=(scheduler,)) for scheduler in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    for worker_database in opened:
        worker_database.close()

    with database.sessions() as session:
        run = session.get(ScheduleRun, PURGE_JOB_NAME)
        remaining = session.get(OutboundMessage, done)
    assert sorted(ran) == [[], [PURGE_JOB_NAME]]
    assert run is not None
    assert run.last_slot_at == datetime(2026, 12, 1, 3, 30, tzinfo=UTC)
    assert run.last_error is None
    assert remaining is None


@pytest.fixture
def inbox_server(accounts: Cli, database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A server whose IDLE looks again only every 30 s: only an announcement tells it sooner."""
    settings = smtp_settings(tmp_path / "state", database_url, imap={"check_seconds": 30})
    with running_server(settings) as server:
        yield server


def test_inbox_retention_expunges_and_an_idling_client_sees_it(
    inbox_server: RunningServer, tmp_path: Path, database_url: str
) -> None:
    deliver(inbox_server)
    recent_uid = deliver(inbox_server)
    database = open_database(database_url)
    try:
        with database.writing() as session:
            session.execute(
                update(MailMessage)
                .where(MailMessage.uid != recent_uid)
                .values(internal_at=utc_now() - 31 * DAY)
            )
            session.commit()
    finally:
        database.close()
    env = clean_environment(
        MAILCMD_DATABASE_URL=database_url,
        MAILCMD_STATE_DIR=str(tmp_path / "state"),
        MAILCMD_RETENTION__INBOX_DAYS="30",
    )
    with raw_imap(inbox_server.port("imaps"), inbox_server.tls_client_context) as client:
        idling(client)
        started = time.monotonic()
        # Another process, as an operator's command is.
        purged = subprocess.run(
            [*mailcmd_command(), "outbox", "purge"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert client.line() == b"* 1 EXPUNGE"
        # Far sooner than the 30 s periodic look: the purge's announcement woke it.
        assert time.monotonic() - started < 20
        finish_idle(client)
        left = client.command(b"a5", b"UID SEARCH ALL")

    assert purged.returncode == 0, purged.stderr
    assert "INBOX mail (kept 30 days): 1 expunged" in purged.stdout
    assert left[0] == b"* SEARCH %d" % recent_uid
