"""A batch of messages in one transaction: each message's failure is its own, a crash loses all."""

import signal
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, select

from mailcmd.db.engine import open_engine
from mailcmd.db.models import InboundMessage, OutboundMessage, QueueStatus
from tests.conftest import ALICE, LAB_ENVIRONMENT, LAB_NOTES, PASSWORD, Cli
from tests.servers import (
    TIMEOUT,
    count_rows,
    mailcmd_command,
    serve_process,
    state_tls,
    wait_until,
    worker_environment,
)

LAB = "lab@app.localhost"


@contextmanager
def lab_engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database, with the lab app's table."""
    engine = open_engine(database_url)
    LAB_NOTES.create(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def queue_while_no_worker_runs(env: dict[str, str], tmp_path: Path, subjects: list[str]) -> None:
    """Submit `subjects` as alice while no worker runs: the next worker claims them together."""
    with serve_process(
        [*mailcmd_command(), "serve", "--no-worker"], cwd=tmp_path, env=env
    ) as front:
        context = state_tls(tmp_path)
        port = front.port("submissions")
        with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as client:
            client.login(ALICE, PASSWORD)
            for subject in subjects:
                client.sendmail(ALICE, [LAB], f"Subject: {subject}\r\n\r\n".encode())


def statuses(engine: Engine) -> list[QueueStatus]:
    with engine.connect() as connection:
        query = select(InboundMessage.status).order_by(InboundMessage.id)
        return list(connection.execute(query).scalars())


def notes(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(select(LAB_NOTES.c.words).order_by(LAB_NOTES.c.id)).scalars()
        )


def finished(engine: Engine) -> bool:
    return all(status in (QueueStatus.DONE, QueueStatus.FAILED) for status in statuses(engine))


def test_a_failing_and_a_timed_out_message_roll_back_alone_while_their_batch_commits(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    env = worker_environment(
        database_url,
        tmp_path,
        **LAB_ENVIRONMENT,
        MAILCMD_WORKER__CONCURRENCY="1",
        MAILCMD_WORKER__MAX_ATTEMPTS="1",
        MAILCMD_WORKER__HANDLER_TIMEOUT="0.5",
    )
    with lab_engine(database_url) as engine:
        subjects = ["note first", "crash", "note second", "doze", "refuse this", "note third"]
        queue_while_no_worker_runs(env, tmp_path, subjects)

        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as server:
            wait_until(lambda: finished(engine), "the batch to be processed")
            assert server.stop() == 0

        assert statuses(engine) == [
            QueueStatus.DONE,
            QueueStatus.FAILED,
            QueueStatus.DONE,
            QueueStatus.FAILED,
            QueueStatus.DONE,
            QueueStatus.DONE,
        ]
        # What the crash, the runaway and the refused command wrote was rolled back;
        # the others' notes stayed, and each message got its one answer.
        assert notes(engine) == ["first", "second", "third"]
        assert count_rows(engine, OutboundMessage.__table__) == len(subjects)


def test_a_worker_killed_mid_batch_commits_none_of_it_and_the_batch_is_done_once_later(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    go_on, started = tmp_path / "go-on", tmp_path / "started"
    env = worker_environment(
        database_url,
        tmp_path,
        **LAB_ENVIRONMENT,
        MAILCMD_WORKER__CONCURRENCY="1",
        MAILCMD_WORKER__HANDLER_TIMEOUT="2",
        MAILCMD_WORKER__POLL_SECONDS="0.1",
    )
    with lab_engine(database_url) as engine:
        subjects = [
            "note before",
            f"block during --until {go_on} --started {started}",
            "note after",
        ]
        queue_while_no_worker_runs(env, tmp_path, subjects)

        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as first:
            # The first message of the batch is processed, the second runs its handler.
            wait_until(started.exists, "the blocking handler to run")
            assert first.stop(signal.SIGKILL) == -signal.SIGKILL

        assert statuses(engine) == [QueueStatus.PROCESSING] * 3
        assert notes(engine) == []
        assert count_rows(engine, OutboundMessage.__table__) == 0
        go_on.touch()

        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as second:
            wait_until(lambda: finished(engine), "the batch processed after the lease")
            assert second.stop() == 0

        assert statuses(engine) == [QueueStatus.DONE] * 3
        assert notes(engine) == ["before", "during", "after"]
        assert count_rows(engine, OutboundMessage.__table__) == 3
