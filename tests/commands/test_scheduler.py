"""Scheduled jobs: each slot runs once, on one worker, made up once after downtime."""

import importlib
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailcmd.addressing.reply_keys import ReplyKeys, account_holder
from mailcmd.app.context import ScheduledContext
from mailcmd.app.loading import MODULE_PREFIX, load_registry, template_folders
from mailcmd.app.registry import MailApp, RegistrationError
from mailcmd.app.rendering import Renderer
from mailcmd.app.resources import bundled_path
from mailcmd.app.schedules import Cron, Every, ScheduledJob
from mailcmd.db.database import Database, open_database
from mailcmd.db.engine import open_engine
from mailcmd.db.migrations import upgrade
from mailcmd.db.models import MailFolder, MailMessage, OutboundMessage, ScheduleRun
from mailcmd.identity.accounts import create_account
from mailcmd.runtime.folder_views import FolderViews
from mailcmd.runtime.scheduler import Scheduler
from mailcmd.testing import plain_text
from tests.conftest import ALICE, PASSWORD, bundled_app_history

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_cron_slots_are_in_the_settings_time_zone() -> None:
    morning = Cron("0 8 * * *")

    assert morning.latest(at("2026-12-01T07:30:00"), BERLIN) == at("2026-12-01T07:00:00")
    assert morning.latest(at("2026-12-01T06:59:59"), BERLIN) == at("2026-11-30T07:00:00")
    assert morning.latest(at("2026-12-01T08:00:00"), UTC_ZONE) == at("2026-12-01T08:00:00")


def test_interval_slots_are_the_same_for_every_worker() -> None:
    hourly = Every(3600)

    assert hourly.latest(at("2026-12-01T10:59:59"), UTC_ZONE) == at("2026-12-01T10:00:00")
    assert hourly.latest(at("2026-12-01T11:00:00"), UTC_ZONE) == at("2026-12-01T11:00:00")


@pytest.mark.parametrize(
    ("declare", "expected"),
    [
        (lambda app: app.schedule("61 * * * *"), "bad cron expression '61 \\* \\* \\* \\*'"),
        (lambda app: app.every(), "longer than 0 seconds"),
    ],
)
def test_bad_triggers_fail_at_registration(
    declare: Callable[[MailApp], object], expected: str
) -> None:
    with pytest.raises(RegistrationError, match=expected):
        declare(MailApp())


def test_a_job_must_take_a_scheduled_context() -> None:
    with pytest.raises(RegistrationError, match="takes one parameter, a ScheduledContext"):

        @MailApp().every(hours=1)
        def job(session: object, now: object) -> None: ...


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# Reply keys of a secret made for the test.
KEYS = ReplyKeys([secrets.token_bytes(32)])


def scheduler_keys() -> ReplyKeys:
    """The test's reply keys, as a key file hands them out."""
    return KEYS


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The test's database at the newest schema, as `mailcmd db upgrade` leaves it."""
    engine = open_engine(database_url)
    upgrade(engine)
    upgrade(engine, history=bundled_app_history())
    engine.dispose()
    opened = open_database(database_url)
    yield opened
    opened.close()


def counting_scheduler(database: Database, clock: Clock, runs: list[datetime]) -> Scheduler:
    def job(run: ScheduledContext) -> None:
        runs.append(run.slot)

    jobs = {"test.job": ScheduledJob("test.job", Every(3600), job)}
    renderer = Renderer(template_folders(bundled_path("templates")))
    return Scheduler(
        jobs,
        database,
        renderer,
        scheduler_keys,
        domain="app.localhost",
        zone=UTC_ZONE,
        poll_seconds=1,
        clock=clock,
    )


def test_a_new_job_waits_for_its_next_slot_then_runs_once_per_slot(database: Database) -> None:
    clock = Clock(at("2026-12-01T10:30:00"))
    runs: list[datetime] = []
    scheduler = counting_scheduler(database, clock, runs)

    first = scheduler.run_due()
    again = scheduler.run_due()
    clock.now = at("2026-12-01T11:00:05")
    due = scheduler.run_due()
    repeated = scheduler.run_due()

    assert first == []
    assert again == []
    assert due == ["test.job"]
    assert repeated == []
    assert runs == [at("2026-12-01T11:00:00")]


def test_slots_missed_during_downtime_run_once(database: Database) -> None:
    clock = Clock(at("2026-12-01T10:30:00"))
    runs: list[datetime] = []
    scheduler = counting_scheduler(database, clock, runs)
    scheduler.run_due()

    clock.now = at("2026-12-01T17:45:00")  # seven hourly slots went by unseen
    scheduler.run_due()
    scheduler.run_due()

    assert runs == [at("2026-12-01T17:00:00")]


def test_a_failing_job_is_recorded_and_not_retried_until_its_next_slot(
    database: Database,
) -> None:
    calls: list[datetime] = []

    def broken(run: ScheduledContext) -> None:
        calls.append(run.slot)
        raise RuntimeError("the job's own bug")

    clock = Clock(at("2026-12-01T10:30:00"))
    jobs = {"test.broken": ScheduledJob("test.broken", Every(3600), broken)}
    renderer = Renderer(template_folders(bundled_path("templates")))
    scheduler = Scheduler(
        jobs,
        database,
        renderer,
        scheduler_keys,
        domain="app.localhost",
        zone=UTC_ZONE,
        poll_seconds=1,
        clock=clock,
    )
    scheduler.run_due()
    clock.now = at("2026-12-01T11:00:01")
    scheduler.run_due()
    scheduler.run_due()

    with database.sessions() as session:
        run = session.get(ScheduleRun, "test.broken")
        assert run is not None
    assert len(calls) == 1
    assert run.last_error is not None
    assert "RuntimeError: the job's own bug" in run.last_error


def tasks_scheduler(url: str, clock: Clock) -> tuple[Scheduler, Database]:
    """A worker's scheduler for the bundled app, on a connection of its own."""
    database = open_database(url)
    scheduler = Scheduler(
        load_registry(bundled_path("commands")).jobs,
        database,
        Renderer(template_folders(bundled_path("templates"))),
        scheduler_keys,
        domain="app.localhost",
        zone=UTC_ZONE,
        poll_seconds=1,
        clock=clock,
    )
    return scheduler, database


def test_the_due_reminder_is_sent_once_by_two_concurrent_workers(database: Database) -> None:
    url = database.engine.url.render_as_string(hide_password=False)
    clock = Clock(at("2026-12-01T07:59:00"))
    workers = [tasks_scheduler(url, clock) for _ in range(2)]
    task = importlib.import_module(MODULE_PREFIX + "tasks").Task
    with database.writing() as session:
        account = create_account(session, ALICE, PASSWORD)
        session.flush()
        alice = account.id
        session.add(task(owner_id=account.id, title="Pay rent", due=date(2026, 12, 1)))
        session.add(task(owner_id=account.id, title="Later", due=date(2026, 12, 2)))
        session.commit()
    workers[0][0].run_due()  # the jobs are seen for the first time: nothing runs yet
    clock.now = at("2026-12-01T08:00:03")
    start = threading.Barrier(2)
    ran: list[list[str]] = []

    def work(scheduler: Scheduler) -> None:
        start.wait(10)
        ran.append(scheduler.run_due())

    threads = [threading.Thread(target=work, args=(scheduler,)) for scheduler, _ in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    clock.now = at("2026-12-01T08:30:00")
    later = workers[0][0].run_due()
    for _, opened in workers:
        opened.close()

    with database.sessions() as session:
        sent = [
            message_from_bytes(raw, policy=policy.default)
            for raw in session.scalars(select(OutboundMessage.raw))
        ]
    assert sorted(ran) == [[], [f"{MODULE_PREFIX}tasks.remind"]]
    assert later == []
    assert [mail["Subject"] for mail in sent] == ["Task 1 due today: Pay rent"]
    assert sent[0]["To"] == ALICE
    assert sent[0]["From"] == "tasks@app.localhost"
    # Answering the reminder acts on task 1, for alice only.
    assert (
        sent[0]["Reply-To"]
        == f"tasks+{KEYS.sign('tasks', '1', account_holder(alice))}@app.localhost"
    )
    assert sent[0]["Auto-Submitted"] == "auto-generated"


def test_the_digest_goes_to_those_who_asked_for_it(database: Database) -> None:
    url = database.engine.url.render_as_string(hide_password=False)
    clock = Clock(at("2026-12-01T06:00:00"))
    scheduler, opened = tasks_scheduler(url, clock)
    module = importlib.import_module(MODULE_PREFIX + "tasks")
    with database.writing() as session:
        alice = create_account(session, ALICE, PASSWORD)
        create_account(session, "bob@app.localhost", PASSWORD)
        session.flush()
        session.add(module.Task(owner_id=alice.id, title="Pay rent"))
        session.add(module.TaskDigest(account_id=alice.id))
        session.commit()
    scheduler.run_due()
    clock.now = at("2026-12-01T07:00:10")
    scheduler.run_due()
    opened.close()

    with database.sessions() as session:
        sent = [
            message_from_bytes(raw, policy=policy.default)
            for raw in session.scalars(select(OutboundMessage.raw))
        ]
    assert [(mail["To"], mail["Subject"]) for mail in sent] == [
        (ALICE, "Your open tasks on 2026-12-01 (1)")
    ]
    text = plain_text(sent[0])
    assert re.search(r"^  ID  DUE         TITLE\n   1  -           Pay rent$", text, re.M)


def test_a_runs_mail_carries_the_trace_of_that_run(database: Database) -> None:
    url = database.engine.url.render_as_string(hide_password=False)
    clock = Clock(at("2026-12-01T07:59:00"))
    scheduler, opened = tasks_scheduler(url, clock)
    task = importlib.import_module(MODULE_PREFIX + "tasks").Task
    with database.writing() as session:
        account = create_account(session, ALICE, PASSWORD)
        session.flush()
        session.add(task(owner_id=account.id, title="Pay rent", due=date(2026, 12, 1)))
        session.add(task(owner_id=account.id, title="Call Bob", due=date(2026, 12, 1)))
        session.add(task(owner_id=account.id, title="Water plants", due=date(2026, 12, 2)))
        session.commit()
    scheduler.run_due()
    clock.now = at("2026-12-01T08:00:03")
    scheduler.run_due()
    clock.now = at("2026-12-02T08:00:03")
    scheduler.run_due()
    opened.close()

    with database.sessions() as session:
        rows = session.execute(
            select(OutboundMessage.raw, OutboundMessage.trace_id).order_by(OutboundMessage.id)
        ).all()
    headers = [message_from_bytes(raw, policy=policy.default)["X-Mailcmd-Trace"] for raw, _ in rows]
    assert headers == [trace_id for _, trace_id in rows]
    # Two reminders of one run, then one of the next day's.
    assert headers[0] == headers[1] != headers[2]
    assert all(len(header) == 16 for header in headers)


def test_a_job_that_mails_an_account_brings_its_app_folders_up_to_date(
    database: Database,
) -> None:
    registry = load_registry(bundled_path("commands"))
    renderer = Renderer(template_folders(bundled_path("templates")))
    clock = Clock(at("2026-12-01T07:59:00"))
    scheduler = Scheduler(
        registry.jobs,
        database,
        renderer,
        scheduler_keys,
        domain="app.localhost",
        zone=UTC_ZONE,
        poll_seconds=1,
        clock=clock,
        folder_views=FolderViews(registry, renderer, scheduler_keys, "app.localhost", 500),
    )
    task = importlib.import_module(MODULE_PREFIX + "tasks").Task
    with database.writing() as session:
        account = create_account(session, ALICE, PASSWORD)
        session.flush()
        session.add(task(owner_id=account.id, title="Pay rent", due=date(2026, 12, 1)))
        session.commit()
    scheduler.run_due()  # the jobs are seen for the first time: nothing runs yet
    clock.now = at("2026-12-01T08:00:03")

    assert scheduler.run_due() == [f"{MODULE_PREFIX}tasks.remind"]

    with database.sessions() as session:
        shown = session.scalars(
            select(MailMessage.raw)
            .join(MailFolder)
            .where(MailFolder.account_id == account.id, MailFolder.name == "Tasks")
        ).all()
    assert [message_from_bytes(raw, policy=policy.default)["Subject"] for raw in shown] == [
        "Pay rent (open, task 1)"
    ]
