"""A receiving front end and two worker processes on one database, SQLite included.

Workers poll only every minute here: replies that come within seconds were woken
by the notifier, across processes.
"""

import signal
import smtplib
import sqlite3
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from mailcmd.db.capabilities import capabilities
from mailcmd.db.engine import SQLITE_BUSY_SECONDS, open_engine
from mailcmd.db.models import MailFolder, MailMessage, OutboundMessage, QueueStatus
from tests.conftest import ALICE, LAB_ENVIRONMENT, LAB_NOTES, PASSWORD, Cli
from tests.imap_support import raw_imap
from tests.servers import (
    TIMEOUT,
    clean_environment,
    count_rows,
    first_inbound_status,
    inbound_attempts,
    mailcmd_command,
    serve_process,
    state_tls,
    wait_until,
    worker_environment,
)

CLIENTS = 3
MESSAGES_PER_CLIENT = 8
# A reply comes this soon after its message was accepted, or it was not woken for.
REPLY_SECONDS = 10.0
# Far beyond the test's bounds: only wake-ups can answer in time.
POLL_SECONDS = "60"
IMAP_LOGIN = b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode())


def test_two_worker_processes_answer_every_message_once_and_soon(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    env = worker_environment(
        database_url,
        tmp_path,
        MAILCMD_IMAP__TLS_PORT="0",
        MAILCMD_IMAP__CHECK_SECONDS=POLL_SECONDS,
        MAILCMD_WORKER__POLL_SECONDS=POLL_SECONDS,
    )
    command = mailcmd_command()
    engine = open_engine(database_url)
    sent: dict[str, float] = {}
    try:
        with (
            serve_process([*command, "serve", "--no-worker"], cwd=tmp_path, env=env) as front,
            serve_process([*command, "worker"], cwd=tmp_path, env=env) as first,
            serve_process([*command, "worker"], cwd=tmp_path, env=env) as second,
        ):
            context = state_tls(tmp_path)
            with raw_imap(front.port("imaps"), context) as idle:
                assert idle.command(b"a1", IMAP_LOGIN)[-1].startswith(b"a1 OK")
                assert idle.command(b"a2", b"SELECT INBOX")[-1].startswith(b"a2 OK")
                idle.send(b"a3 IDLE\r\n")
                assert idle.line() == b"+ idling"

                _send_concurrently(front.port("submissions"), context, sent)

                # The front end delivers no reply itself: a worker process did, and
                # the IDLE on the front end heard of it before its own next look.
                assert idle.line().endswith(b" EXISTS")
                assert time.time() - min(sent.values()) < REPLY_SECONDS + 5
                idle.send(b"DONE\r\n")
                idle.until_tagged(b"a3")

            wait_until(lambda: _replies(engine) == len(sent), "a reply to every message")
            processes = (front, first, second)
            for process in processes:
                assert process.stop() == 0
        logs = [process.logged() for process in processes]

        assert _tasks(engine) == len(sent)
        assert count_rows(engine, OutboundMessage.__table__) == len(sent)
        assert inbound_attempts(engine) == [(QueueStatus.DONE, 1)] * len(sent)
        late = {
            title: arrived - sent[title]
            for title, arrived in _reply_times(engine).items()
            if arrived - sent[title] > REPLY_SECONDS
        }
        assert late == {}
        for log in logs:
            assert "database is locked" not in log
            assert "Traceback" not in log
    finally:
        engine.dispose()


def test_claims_of_a_killed_worker_process_are_taken_over_once(
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
    command = mailcmd_command()
    try:
        with serve_process([*command, "serve", "--no-worker"], cwd=tmp_path, env=env) as front:
            with serve_process([*command, "worker"], cwd=tmp_path, env=env) as doomed:
                context = state_tls(tmp_path)
                port = front.port("submissions")
                with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as smtp:
                    smtp.login(ALICE, PASSWORD)
                    smtp.sendmail(
                        ALICE,
                        ["lab@app.localhost"],
                        f"Subject: block once --until {marker}\r\n\r\n".encode(),
                    )
                wait_until(
                    lambda: first_inbound_status(engine) == QueueStatus.PROCESSING, "claimed"
                )
                assert doomed.stop(signal.SIGKILL) == -signal.SIGKILL

            assert count_rows(engine, LAB_NOTES) == 0
            marker.touch()
            with serve_process([*command, "worker"], cwd=tmp_path, env=env) as heir:
                wait_until(
                    lambda: first_inbound_status(engine) == QueueStatus.DONE,
                    "taken over after the lease",
                )
                assert heir.stop() == 0
            assert front.stop() == 0
        logs = [front.logged(), heir.logged()]

        assert count_rows(engine, LAB_NOTES) == 1
        assert count_rows(engine, OutboundMessage.__table__) == 1
        for log in logs:
            assert "database is locked" not in log
            assert "Traceback" not in log
    finally:
        engine.dispose()


def test_a_message_received_while_a_slow_handler_holds_sqlite_waits_and_is_stored(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    # A handler runs inside its message's write transaction: on SQLite the receiver
    # of another process waits for the whole handler, past the 10 s it would wait
    # for any other writer, rather than answer with a temporary failure.
    database_file = capabilities(database_url).file
    if database_file is None:
        pytest.skip("SQLite's one writer at a time")
    engine = open_engine(database_url)
    LAB_NOTES.create(engine)
    marker = tmp_path / "go-on"
    env = worker_environment(
        database_url, tmp_path, **LAB_ENVIRONMENT, MAILCMD_WORKER__HANDLER_TIMEOUT="40"
    )
    command = mailcmd_command()
    try:
        with (
            serve_process([*command, "serve", "--no-worker"], cwd=tmp_path, env=env) as front,
            serve_process([*command, "worker"], cwd=tmp_path, env=env) as worker,
        ):
            context = state_tls(tmp_path)
            port = front.port("submissions")
            with smtplib.SMTP_SSL("127.0.0.1", port, timeout=60, context=context) as smtp:
                smtp.login(ALICE, PASSWORD)
                smtp.sendmail(
                    ALICE,
                    ["lab@app.localhost"],
                    f"Subject: block slowly --until {marker}\r\n\r\n".encode(),
                )
                wait_until(lambda: _write_lock_held(database_file), "the handler holding the lock")
                threading.Timer(SQLITE_BUSY_SECONDS + 2, marker.touch).start()
                smtp.sendmail(ALICE, ["lab@app.localhost"], b"Subject: echo later\r\n\r\n")

            wait_until(lambda: inbound_attempts(engine) == [(QueueStatus.DONE, 1)] * 2, "both done")
            processes = (front, worker)
            for process in processes:
                assert process.stop() == 0
        for process in processes:
            log = process.logged()
            assert "database is locked" not in log
            assert "Traceback" not in log
    finally:
        engine.dispose()


def test_worker_processes_started_together_on_a_new_sqlite_file_all_get_ready(
    tmp_path: Path,
) -> None:
    # The default database, a SQLite file that does not exist yet: each process
    # makes and upgrades it, one after the other, the later ones finding it done.
    env = clean_environment(MAILCMD_STATE_DIR=str(tmp_path / "state"))
    starting = [
        serve_process([*mailcmd_command(), "worker"], cwd=tmp_path, env=env) for _ in range(3)
    ]
    with ExitStack() as stack, ThreadPoolExecutor(len(starting)) as pool:
        entered = [pool.submit(process.__enter__) for process in starting]
        for process, future in zip(starting, entered, strict=True):
            stack.push(process)
            future.exception(TIMEOUT)
        running = [future.result() for future in entered]
        for process in running:
            assert process.stop() == 0
        logs = [process.logged() for process in running]

    for log in logs:
        assert "database is locked" not in log
        assert "Traceback" not in log


def _write_lock_held(database_file: str) -> bool:
    connection = sqlite3.connect(database_file, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        connection.close()


def _send_concurrently(port: int, context: ssl.SSLContext, sent: dict[str, float]) -> None:
    """Send every client's messages, the clients at once; `sent` gets when each was accepted."""
    failures: list[BaseException] = []

    def client(number: int) -> None:
        try:
            with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as smtp:
                smtp.login(ALICE, PASSWORD)
                for index in range(MESSAGES_PER_CLIENT):
                    title = f"Item {number}-{index}"
                    smtp.sendmail(
                        ALICE, ["tasks@app.localhost"], f"Subject: add {title}\r\n\r\n".encode()
                    )
                    sent[title] = time.time()
        except BaseException as error:  # reported by the test's thread
            failures.append(error)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert failures == []
    assert len(sent) == CLIENTS * MESSAGES_PER_CLIENT


def _replies(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count())
            .select_from(MailMessage)
            .join(MailFolder, MailFolder.id == MailMessage.folder_id)
            .where(MailFolder.name == "INBOX")
        ).scalar_one()


def _reply_times(engine: Engine) -> dict[str, float]:
    """Each reply's task title, and when the reply was stored (seconds since the epoch)."""
    with engine.connect() as connection:
        # The replies, not the messages of the app's folders (which show the tasks).
        rows = connection.execute(
            select(MailMessage.raw, MailMessage.internal_at).where(MailMessage.object_key.is_(None))
        ).all()
    found = {}
    for raw, internal_at in rows:
        subject = next(
            line for line in bytes(raw).split(b"\r\n") if line.startswith(b"Subject: ")
        ).decode()
        title = subject.split(": ", 2)[-1]
        stored = internal_at if internal_at.tzinfo else internal_at.replace(tzinfo=UTC)
        found[title] = datetime.timestamp(stored)
    return found


def _tasks(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM tasks")).scalar_one())
