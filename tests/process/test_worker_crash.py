"""A worker killed in the middle of a handler repeats no side effect and loses no message."""

import signal
import smtplib
import ssl
from pathlib import Path

from sqlalchemy import Engine, FromClause, func, select

from mailcmd.db.engine import open_engine
from mailcmd.db.models import InboundMessage, OutboundMessage, QueueStatus
from tests.conftest import ALICE, LAB_COMMANDS, LAB_NOTES, LAB_TEMPLATES, PASSWORD, Cli
from tests.servers import (
    TIMEOUT,
    clean_environment,
    mailcmd_command,
    serve_process,
    wait_until,
)


def test_killed_worker_leaves_nothing_and_the_message_is_done_once(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    engine = open_engine(database_url)
    LAB_NOTES.create(engine)
    marker = tmp_path / "go-on"
    env = _lab_environment(
        database_url,
        tmp_path,
        MAILCMD_WORKER__HANDLER_TIMEOUT="2",
        MAILCMD_WORKER__POLL_SECONDS="0.1",
    )
    try:
        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as first:
            cert = tmp_path / "state" / "tls" / "dev-cert.pem"
            context = ssl.create_default_context(cafile=str(cert))
            port = first.port("submissions")
            with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as client:
                client.login(ALICE, PASSWORD)
                client.sendmail(
                    ALICE,
                    ["lab@app.localhost"],
                    f"Subject: block once --until {marker}\r\n\r\n".encode(),
                )
            wait_until(lambda: _status(engine) == QueueStatus.PROCESSING, "claimed")
            assert first.stop(signal.SIGKILL) == -signal.SIGKILL

        assert _count(engine, LAB_NOTES) == 0
        assert _count(engine, OutboundMessage.__table__) == 0
        marker.touch()

        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as second:
            wait_until(lambda: _status(engine) == QueueStatus.DONE, "processed after restart")
            assert second.stop() == 0

        assert _count(engine, LAB_NOTES) == 1
        assert _count(engine, OutboundMessage.__table__) == 1
    finally:
        engine.dispose()


def _lab_environment(database_url: str, tmp_path: Path, **more: str) -> dict[str, str]:
    """`mailcmd serve` of the lab app, logins on implicit TLS only, and `more` settings."""
    return clean_environment(
        MAILCMD_DATABASE_URL=database_url,
        MAILCMD_STATE_DIR=str(tmp_path / "state"),
        MAILCMD_COMMANDS=str(LAB_COMMANDS),
        MAILCMD_TEMPLATES=str(LAB_TEMPLATES),
        MAILCMD_SMTP__SUBMISSION_PORT="off",
        **more,
    )


def _status(engine: Engine) -> QueueStatus | None:
    with engine.connect() as connection:
        return connection.execute(select(InboundMessage.status)).scalar()


def _count(engine: Engine, table: FromClause) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_stopped_server_hands_back_the_messages_it_claimed_but_never_started(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    engine = open_engine(database_url)
    LAB_NOTES.create(engine)
    env = _lab_environment(database_url, tmp_path, MAILCMD_WORKER__CONCURRENCY="1")
    try:
        # Queued while no worker runs, so that the worker finds them all at once.
        command = [*mailcmd_command(), "serve", "--no-worker"]
        with serve_process(command, cwd=tmp_path, env=env) as front:
            cert = tmp_path / "state" / "tls" / "dev-cert.pem"
            context = ssl.create_default_context(cafile=str(cert))
            port = front.port("submissions")
            with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as client:
                client.login(ALICE, PASSWORD)
                for _ in range(3):
                    client.sendmail(ALICE, ["lab@app.localhost"], b"Subject: slow 1\r\n\r\n")

        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as server:
            # One runs; the others are claimed in its batch and wait for it.
            wait_until(lambda: _statuses(engine).count(QueueStatus.PROCESSING) == 3, "claimed")
            assert server.stop() == 0

        # The one that ran finished; the one that waited is queued again, never tried.
        assert _attempts(engine) == [
            (QueueStatus.DONE, 1),
            (QueueStatus.QUEUED, 0),
            (QueueStatus.QUEUED, 0),
        ]
    finally:
        engine.dispose()


def _statuses(engine: Engine) -> list[QueueStatus]:
    with engine.connect() as connection:
        return list(connection.execute(select(InboundMessage.status)).scalars())


def _attempts(engine: Engine) -> list[tuple[QueueStatus, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(InboundMessage.status, InboundMessage.attempts).order_by(InboundMessage.id)
        )
        return [(row[0], row[1]) for row in rows]
