"""A receiving front end and a separate worker process share one database."""

import smtplib
from pathlib import Path

from sqlalchemy import Engine, select

from mailcmd.db.engine import open_engine
from mailcmd.db.models import InboundMessage, OutboundMessage, QueueStatus
from tests.conftest import ALICE, PASSWORD, Cli
from tests.servers import (
    TIMEOUT,
    mailcmd_command,
    serve_process,
    state_tls,
    wait_until,
    worker_environment,
)


def test_serve_without_worker_and_a_worker_process_answer_mail(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    env = worker_environment(
        database_url,
        tmp_path,
        # The worker must be woken by the front end's process: its polling is too
        # slow to answer within the test's time.
        MAILCMD_WORKER__POLL_SECONDS="600",
    )
    command = mailcmd_command()
    with (
        serve_process([*command, "serve", "--no-worker"], cwd=tmp_path, env=env) as front,
        serve_process([*command, "worker"], cwd=tmp_path, env=env) as worker,
    ):
        assert "worker: off" in front.lines
        assert "worker: running" in worker.lines
        assert not [line for line in worker.lines if line.startswith("listening")]
        context = state_tls(tmp_path)
        port = front.port("submissions")
        with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as client:
            client.login(ALICE, PASSWORD)
            client.sendmail(ALICE, ["tasks@app.localhost"], b"Subject: add Buy milk\r\n\r\n")
        engine = open_engine(database_url)
        try:
            subject = _reply_subject(engine)
        finally:
            engine.dispose()
        assert front.stop() == 0
        assert worker.stop() == 0

    assert subject == "Task 1 added: Buy milk"


def _reply_subject(engine: Engine) -> str:
    def answered() -> str | None:
        with engine.connect() as connection:
            done = connection.execute(
                select(InboundMessage.id).where(InboundMessage.status == QueueStatus.DONE)
            ).first()
            raw = connection.execute(select(OutboundMessage.raw)).scalar()
        return _subject(raw) if done is not None and raw is not None else None

    # Another process's progress has no event to wait on here.
    return wait_until(answered, "a reply in the outbox")


def _subject(raw: bytes) -> str:
    for line in raw.split(b"\r\n"):
        if line.startswith(b"Subject: "):
            return line.removeprefix(b"Subject: ").decode()
    return ""
