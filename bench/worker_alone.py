"""`python -m bench.worker_alone`: the worker's CPU per reply, on a pre-filled inbound queue.

A `mailcmd worker` process starts on an installation with an empty queue; then a
batch of `add` commands from the installation's account to `tasks@` is written
into the queue in one transaction, as the receiver would have stored them after
AUTH, and the worker processes them: each becomes a task and a reply in the
account's INBOX. The figure is the worker process's CPU time (user + system, all
threads) from the batch's commit to the last message done, divided by the number
of messages; on PostgreSQL the CPU of the backends serving it is given beside it.
No SMTP, no load generator: only the worker runs.
"""

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select

from bench import installations
from bench.processes import ServerProcess
from bench.scaling import BackendCpu
from mailcmd.db.database import Database
from mailcmd.db.models import Account, InboundMessage, QueueStatus
from mailcmd.db.notifier import Channel, announce

MESSAGE_BYTES = 2048
WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class Round:
    """One batch through the worker."""

    messages: int
    seconds: float
    worker_cpu: float
    database_cpu: float | None

    def cpu_ms_per_reply(self) -> float:
        """The worker's CPU milliseconds per message."""
        return 1000 * self.worker_cpu / self.messages

    def line(self) -> str:
        """The round in one line."""
        database = ""
        if self.database_cpu is not None:
            database = f", PostgreSQL {1000 * self.database_cpu / self.messages:.2f} ms"
        return (
            f"{self.messages} messages in {self.seconds:.2f} s"
            f" ({self.messages / self.seconds:.0f}/s): worker CPU"
            f" {self.cpu_ms_per_reply():.2f} ms per reply{database}"
        )


def message(number: str) -> bytes:
    """A 2 KB `add` command from the load's account to tasks@, as a mail client sends it."""
    header = (
        f"From: {installations.LOGIN}\r\nTo: tasks@{installations.DOMAIN}\r\n"
        f"Subject: add Buy milk {number}\r\n"
        f"Message-ID: <{number}.worker-alone@bench.invalid>\r\n"
        "Date: Mon, 07 Dec 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"Some words that make the message as long as a short mail is.\r\n"
    body = line * ((MESSAGE_BYTES - len(header)) // len(line) + 1)
    return (header + body)[:MESSAGE_BYTES]


def fill(database: Database, tag: str, count: int) -> None:
    """Write `count` commands into the inbound queue in one transaction, as received after AUTH."""
    with database.writing() as session, session.begin():
        account_id = session.scalar(select(Account.id).where(Account.login == installations.LOGIN))
        rows = []
        for index in range(count):
            raw = message(f"{tag}.{index}")
            rows.append(
                {
                    "raw": raw,
                    "mail_from": installations.LOGIN,
                    "rcpt_tos": [f"tasks@{installations.DOMAIN}"],
                    "account_id": account_id,
                    "client_address": "127.0.0.1",
                    "helo": "bench.invalid",
                    "tls_protocol": "TLSv1.3",
                    "tls_cipher": "TLS_AES_256_GCM_SHA384",
                    "auth_method": "password",
                    "size": len(raw),
                }
            )
        session.execute(insert(InboundMessage), rows)
        announce(session, Channel.NEW_MAIL)


def unfinished(database: Database) -> int:
    """How many messages of the queue are not yet done or failed."""
    with database.sessions() as session:
        finished = (QueueStatus.DONE, QueueStatus.FAILED)
        query = select(func.count()).where(InboundMessage.status.not_in(finished))
        return int(session.scalar(query.select_from(InboundMessage)) or 0)


def one_round(database: Database, worker: ServerProcess, url: str, tag: str, count: int) -> Round:
    """Fill the queue with `count` commands and measure the worker until all are done."""
    backends = BackendCpu(url)
    before = worker.cpu_seconds()
    began = time.monotonic()
    fill(database, tag, count)
    deadline = began + WAIT_SECONDS
    while unfinished(database):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not finish {count} messages in {WAIT_SECONDS} s")
        time.sleep(0.02)
    seconds = time.monotonic() - began
    return Round(count, seconds, worker.cpu_seconds() - before, backends.used())


def main(argv: list[str] | None = None) -> int:
    """Measure the worker alone and print each round and the best and median figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mailcmd-worker-alone-") as scratch:
        folder = Path(scratch)
        tls = installations.certificate(folder / "tls")
        url = installations.fresh_postgres("mailcmd_bench_worker") if options.postgres else None
        system = installations.mailcmd(
            folder,
            "worker-alone",
            tls=tls,
            database_url=url,
            work=False,
            # The fill wakes the worker through the notifier; looking often as well
            # keeps a lost wake-up out of the figures.
            overrides={"MAILCMD_WORKER__POLL_SECONDS": "0.05"},
        )
        assert system.database_url is not None
        worker = ServerProcess(
            "worker",
            [sys.executable, "-m", "mailcmd", "worker"],
            system.server.env,
            folder / "worker.log",
        )
        database = installations.open_installation_database(system)
        worker.start()
        try:
            # A first small batch: templates, the account and the pools warm up.
            one_round(database, worker, system.database_url, "warm", 20)
            rounds = []
            for number in range(options.rounds):
                rounds.append(
                    one_round(database, worker, system.database_url, f"r{number}", options.messages)
                )
                print(f"round {number + 1}: {rounds[-1].line()}", flush=True)
        finally:
            worker.stop()
            database.close()
    figures = [measured.cpu_ms_per_reply() for measured in rounds]
    engine = "PostgreSQL" if options.postgres else "SQLite"
    print(
        f"worker alone, {engine}: CPU per reply best {min(figures):.2f} ms,"
        f" median {statistics.median(figures):.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
