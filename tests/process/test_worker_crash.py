"""A worker killed in the middle of a handler repeats no side effect and loses no message."""

import signal
import smtplib
from pathlib import Path

from mailcmd.db.engine import open_engine
from mailcmd.db.models import OutboundMessage, QueueStatus
from tests.conftest import (
    ALICE,
    LAB_ENVIRONMENT,
    LAB_NOTES,
    PASSWORD,
    Cli,
)
from tests.servers import (
    TIMEOUT,
    count_rows,
    first_inbound_status,
    inbound_attempts,
    mailcmd_command,
    serve_process,
    state_tls,
    wait_until,
    worker_environment,
)


def test_killed_worker_leaves_nothing_and_the_message_is_done_once(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    engine = open_engine(database_url)
    LAB_NOTES.create(engine)
    marker = tmp_path / "go-on"
    env = worker_environment(
        database_url,
        tmp_path,
        **LAB_ENVIRONMENT,
        MAILCMD_WORKER__HANDLER_TIMEOUT="2",
        MAILCMD_WORKER__POLL_SECONDS="0.1",
    )
    try:
        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as first:
            context = state_tls(tmp_path)
            port = first.port("submissions")
            with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as client:
                client.login(ALICE, PASSWORD)
                client.sendmail(
                    ALICE,
                    ["lab@app.localhost"],
                    f"Subject: block once --until {marker}\r\n\r\n".encode(),
                )
            wait_until(
                lambda: first_inbound_status(engine) == QueueStatus.PROCESSING,
                "claimed",
            )
            assert first.stop(signal.SIGKILL) == -signal.SIGKILL

        assert count_rows(engine, LAB_NOTES) == 0
        assert count_rows(engine, OutboundMessage.__table__) == 0
        marker.touch()

        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as second:
            wait_until(
                lambda: first_inbound_status(engine) == QueueStatus.DONE,
                "processed after restart",
            )
            assert second.stop() == 0

        assert count_rows(engine, LAB_NOTES) == 1
        assert count_rows(engine, OutboundMessage.__table__) == 1
    finally:
        engine.dispose()


def test_a_stopped_server_hands_back_the_messages_it_claimed_but_never_started(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    engine = open_engine(database_url)
    LAB_NOTES.create(engine)
    started, go_on = tmp_path / "started", tmp_path / "go-on"
    env = worker_environment(
        database_url, tmp_path, **LAB_ENVIRONMENT, MAILCMD_WORKER__CONCURRENCY="1"
    )
    try:
        # Queued while no worker runs, so that the worker finds them all at once.
        command = [*mailcmd_command(), "serve", "--no-worker"]
        with serve_process(command, cwd=tmp_path, env=env) as front:
            context = state_tls(tmp_path)
            port = front.port("submissions")
            with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as client:
                client.login(ALICE, PASSWORD)
                for _ in range(3):
                    subject = f"block once --until {go_on} --started {started}"
                    client.sendmail(ALICE, ["lab@app.localhost"], f"Subject: {subject}\r\n\r\n")

        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as server:
            # One runs and waits for `go_on`; the others are claimed in its batch and
            # wait for it. The stop is under way before the first may finish.
            wait_until(started.exists, "the first handler running")
            server.process.send_signal(signal.SIGTERM)
            wait_until(
                lambda: "worker stopping: waiting for 1 batch(es)" in "".join(server.errors),
                "the worker stopping",
            )
            go_on.touch()
            assert server.process.wait(TIMEOUT) == 0

        # The one that ran finished; the ones that waited are queued again, never tried.
        assert inbound_attempts(engine) == [
            (QueueStatus.DONE, 1),
            (QueueStatus.QUEUED, 0),
            (QueueStatus.QUEUED, 0),
        ]
    finally:
        engine.dispose()
