"""The schema: migrations agree with the models, and `mailcmd db ...` on SQLite and PostgreSQL."""

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from mailcmd.db import migrations
from mailcmd.db.database import WriterQueue
from mailcmd.db.engine import is_sqlite, open_engine
from mailcmd.db.histories import FRAMEWORK_HISTORY, History
from mailcmd.db.models import Account, InboundMessage, QueueStatus
from tests.conftest import Cli, bundled_app_history


def app() -> History:
    """The bundled app's history."""
    return bundled_app_history()


def test_each_upgraded_history_matches_its_models(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        migrations.upgrade(engine)
        framework_only = set(inspect(engine).get_table_names())
        migrations.upgrade(engine, history=app())

        assert migrations.pending_changes(engine) == []
        assert migrations.pending_changes(engine, app()) == []
        # mailcmd's history makes none of the app's tables, nor the app's any of mailcmd's.
        assert framework_only.isdisjoint(app().declared)
        assert app().declared == {
            "tasks",
            "task_comments",
            "task_attachments",
            "task_shares",
            "task_digests",
        }
        assert set(inspect(engine).get_table_names()) >= framework_only | app().declared
    finally:
        engine.dispose()


def test_db_downgrade_each_history_to_base_and_upgrade_again(cli: Cli, database_url: str) -> None:
    app_down = cli("db", "downgrade", "base")
    framework_down = cli("db", "downgrade", "base", "--framework")
    current = cli("db", "current")
    up = cli("db", "upgrade")

    assert app_down.stdout == (
        f"app ({app().versions}): base (no tables) (behind head {migrations.head_revision(app())}:"
        " upgrade)\n"
    )
    assert framework_down.stdout == (
        f"mailcmd: base (no tables) (behind head {migrations.head_revision()}: upgrade)\n"
    )
    assert current.stdout.splitlines()[0] == (
        f"mailcmd: base (no tables) (behind head {migrations.head_revision()}: upgrade)"
    )
    assert up.stdout.splitlines() == [
        f"mailcmd: {migrations.head_revision()} (head)",
        f"app ({app().versions}): {migrations.head_revision(app())} (head)",
    ]
    engine = open_engine(database_url)
    try:
        assert inspect(engine).get_table_names() != []
        assert migrations.pending_changes(engine) == []
        assert migrations.pending_changes(engine, app()) == []
    finally:
        engine.dispose()


def test_db_current_before_and_after_upgrade(empty_cli: Cli) -> None:
    head = migrations.head_revision()
    app_head = migrations.head_revision(app())

    before = empty_cli("db", "current")
    upgraded = empty_cli("db", "upgrade")
    after = empty_cli("db", "current")

    assert before.stdout.splitlines() == [
        f"mailcmd: base (no tables) (behind head {head}: upgrade)",
        f"app ({app().versions}): base (no tables) (behind head {app_head}: upgrade)",
    ]
    assert upgraded.stdout == after.stdout
    assert after.stdout.splitlines() == [
        f"mailcmd: {head} (head)",
        f"app ({app().versions}): {app_head} (head)",
    ]


def test_commands_on_a_schema_that_is_behind(empty_cli: Cli) -> None:
    result = empty_cli("users", "list")

    if is_sqlite(empty_cli.env["MAILCMD_DATABASE_URL"]):
        # The embedded database belongs to this installation: it is brought up to date.
        assert result.exit_code == 0, result.stderr
        assert empty_cli("db", "current").stdout.splitlines()[0].endswith("(head)")
    else:
        assert result.exit_code == 1
        assert result.stderr == (
            "mailcmd: the mailcmd schema is at nothing (empty database), not at its head "
            f"{migrations.head_revision()}: run `mailcmd db upgrade`\n"
        )


def test_unreachable_database_is_one_line(empty_cli: Cli) -> None:
    empty_cli.env["MAILCMD_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"

    result = empty_cli("users", "list")

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("mailcmd: cannot use the database (database_url): ")


def test_timestamps_come_back_as_utc(database_url: str) -> None:
    engine = open_engine(database_url)
    migrations.upgrade(engine)
    paris_noon = datetime(2026, 12, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    try:
        with Session(engine) as session:
            session.add(Account(login="tz", password_hash="x", created_at=paris_noon))
            session.commit()
        with Session(engine) as session:
            created = session.scalars(select(Account.created_at)).one()

        assert created == paris_noon
        assert created.tzinfo == UTC
        assert created.hour == 11
    finally:
        engine.dispose()


def test_naive_timestamps_are_refused(database_url: str) -> None:
    engine = open_engine(database_url)
    migrations.upgrade(engine)
    try:
        with Session(engine) as session:
            session.add(Account(login="naive", password_hash="x", created_at=datetime(2026, 1, 1)))
            with pytest.raises(Exception, match="naive datetime"):
                session.commit()
    finally:
        engine.dispose()


def test_inbound_queue_row_keeps_bytes_and_envelope(database_url: str) -> None:
    engine = open_engine(database_url)
    migrations.upgrade(engine)
    raw = b"Subject: add Buy milk\r\n\r\n\xff binary-safe\r\n"
    try:
        with Session(engine) as session:
            session.add(
                InboundMessage(
                    raw=raw,
                    mail_from="alice@app.localhost",
                    rcpt_tos=["tasks@app.localhost", "tasks+42@app.localhost"],
                    client_address="127.0.0.1",
                    helo="client.example",
                    tls_protocol="TLSv1.3",
                    tls_cipher="TLS_AES_256_GCM_SHA384",
                    size=len(raw),
                )
            )
            session.commit()
        with Session(engine) as session:
            stored = session.scalars(select(InboundMessage)).one()

        assert stored.raw == raw
        assert stored.rcpt_tos == ["tasks@app.localhost", "tasks+42@app.localhost"]
        assert stored.status is QueueStatus.QUEUED
        assert stored.attempts == 0
        assert stored.received_at.tzinfo == UTC
    finally:
        engine.dispose()


@pytest.mark.parametrize("framework", [False, True], ids=["app", "framework"])
def test_db_revision_autogenerate_with_nothing_changed_writes_an_empty_revision(
    cli: Cli, framework: bool
) -> None:
    history = FRAMEWORK_HISTORY if framework else app()
    previous_head = migrations.head_revision(history)
    before = set(history.versions.glob("*.py"))

    try:
        result = cli(
            "db",
            "revision",
            "-m",
            "nothing changed",
            "--autogenerate",
            *["--framework"] * framework,
        )
        [written] = set(history.versions.glob("*.py")) - before

        assert result.stdout.endswith(f"wrote {written}\n")
        text = written.read_text()
        assert '"""nothing changed' in text
        assert "down_revision: str | None = " in text
        assert str(previous_head) in text
        assert migrations.head_revision(history) != previous_head
        upgrade_body = text.split("def upgrade() -> None:")[1].split("def downgrade")[0]
        assert [line.strip() for line in upgrade_body.splitlines() if line.strip()][1] == "pass"
    finally:
        for path in set(history.versions.glob("*.py")) - before:
            path.unlink()


def test_the_receivers_commit_takes_the_sqlite_writer_slot_before_waiting_workers() -> None:
    queue = WriterQueue()
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def first() -> None:
        with queue.turn():
            holding.set()
            release.wait(5)
            order.append("first")

    def writer(name: str, urgent: bool) -> None:
        with queue.turn(urgent=urgent):
            order.append(name)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert holding.wait(5)
    for name, urgent in [("worker 1", False), ("worker 2", False), ("receiver", True)]:
        thread = threading.Thread(target=writer, args=(name, urgent))
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + 5
    while queue.waiting < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert queue.waiting == 3
    release.set()
    for thread in threads:
        thread.join(5)

    assert order[:2] == ["first", "receiver"]
    assert sorted(order[2:]) == ["worker 1", "worker 2"]
