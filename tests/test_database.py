"""The schema: migrations agree with the models, and `mailcmd db ...` on SQLite and PostgreSQL."""

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcmd.db import migrations
from mailcmd.db.database import WriterQueue
from mailcmd.db.engine import is_sqlite, open_engine
from mailcmd.db.models import Account, InboundMessage, QueueStatus
from mailcmd.loading import load_registry
from mailcmd.resources import bundled_path
from tests.conftest import Cli


@pytest.fixture(autouse=True)
def bundled_app_models() -> None:
    """The bundled app's tables are part of the schema: its modules declare them."""
    load_registry(bundled_path("commands"))


def test_upgraded_schema_matches_the_models(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        migrations.upgrade(engine)

        assert migrations.pending_changes(engine) == []
    finally:
        engine.dispose()


def test_db_downgrade_to_base_and_upgrade_again(cli: Cli, database_url: str) -> None:
    down = cli("db", "downgrade", "base")
    current = cli("db", "current")
    up = cli("db", "upgrade")

    assert down.stdout == "database schema at base (no tables)\n"
    assert current.stdout.startswith("no schema yet")
    assert up.exit_code == 0
    engine = open_engine(database_url)
    try:
        assert migrations.pending_changes(engine) == []
    finally:
        engine.dispose()


def test_db_current_before_and_after_upgrade(empty_cli: Cli) -> None:
    head = migrations.head_revision()

    before = empty_cli("db", "current")
    upgraded = empty_cli("db", "upgrade")
    after = empty_cli("db", "current")

    assert before.stdout == f"no schema yet (head is {head}): run `mailcmd db upgrade`\n"
    assert upgraded.stdout == f"database schema at {head} (head)\n"
    assert after.stdout == f"{head} (head)\n"


def test_commands_on_a_schema_that_is_behind(empty_cli: Cli, database_url: str) -> None:
    result = empty_cli("users", "list")

    if is_sqlite(database_url):
        # The embedded database belongs to this installation: it is brought up to date.
        assert result.exit_code == 0, result.stderr
        assert empty_cli("db", "current").stdout.endswith("(head)\n")
    else:
        assert result.exit_code == 1
        assert result.stderr == (
            "mailcmd: the database schema is at nothing (empty database), this mailcmd "
            f"needs {migrations.head_revision()}: run `mailcmd db upgrade`\n"
        )


def test_unreachable_database_is_one_line(empty_cli: Cli) -> None:
    empty_cli.env["MAILCMD_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"

    result = empty_cli("users", "list")

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("mailcmd: cannot use the database: ")


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


def test_db_revision_autogenerate_writes_a_revision(cli: Cli) -> None:
    previous_head = migrations.head_revision()
    versions = bundled_path("migrations") / "versions"
    before = set(versions.glob("*.py"))

    try:
        result = cli("db", "revision", "-m", "nothing changed", "--autogenerate")
        [written] = set(versions.glob("*.py")) - before

        assert result.stdout.endswith(f"wrote {written}\n")
        text = written.read_text()
        assert '"""nothing changed' in text
        assert "down_revision: str | None = " in text
        assert previous_head in text
        assert migrations.head_revision() != previous_head
        upgrade_body = text.split("def upgrade() -> None:")[1].split("def downgrade")[0]
        assert [line.strip() for line in upgrade_body.splitlines() if line.strip()][1] == "pass"
    finally:
        for path in set(versions.glob("*.py")) - before:
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
