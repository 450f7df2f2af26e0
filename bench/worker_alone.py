"""`python -m bench.worker_alone`: the worker's CPU per reply, on a pre-filled inbound queue.

A `mailcmd worker` process starts on an installation with an empty queue; then a
batch of `add` commands from the installation's account to `tasks@` is written
into the queue in one transaction, as the receiver would have stored them after
AUTH, and the worker processes them: each becomes a task and a reply in the
account's INBOX. The figure is the worker process's CPU time (user + system, all
threads) from the batch's commit to the last message done, divided by the number
of messages; on PostgreSQL the CPU of the backends serving it is given beside it.
No SMTP, no load generator: only the worker runs.

`--relay`: the commands come from the account's confirmed address at another
domain, as the MX port stores them after an aligned SPF pass, so that the
replies leave through `[relay]` to a counting sink; the round ends when the
sink has every reply.
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
from bench.replies import SinkWatch
from bench.scaling import BackendCpu
from mailcmd.db.database import Database
from mailcmd.db.models import Account, InboundMessage, QueueStatus
from mailcmd.db.notifier import Channel, announce
from mailcmd.identity.authenticity import StaticResolver, authentication_results, evaluate

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


def message(number: str, sender: str = installations.LOGIN) -> bytes:
    """A 2 KB `add` command from `sender` to tasks@, as a mail client sends it."""
    header = (
        f"From: {sender}\r\nTo: tasks@{installations.DOMAIN}\r\n"
        f"Subject: add Buy milk {number}\r\n"
        f"Message-ID: <{number}.worker-alone@bench.invalid>\r\n"
        "Date: Mon, 07 Dec 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"Some words that make the message as long as a short mail is.\r\n"
    body = line * ((MESSAGE_BYTES - len(header)) // len(line) + 1)
    return (header + body)[:MESSAGE_BYTES]


def fill(database: Database, tag: str, count: int, relay: bool = False) -> None:
    """Write `count` commands into the inbound queue in one transaction, as received.

    After AUTH on the submission port; with `relay`, from the account's external
    address on the MX port, with the verdict and header the MX port adds.
    """
    with database.writing() as session, session.begin():
        account_id = session.scalar(select(Account.id).where(Account.login == installations.LOGIN))
        rows = [_submitted(message(f"{tag}.{index}"), account_id) for index in range(count)]
        if relay:
            rows = [_from_mx(message(f"{tag}.{index}", EXTERNAL)) for index in range(count)]
        session.execute(insert(InboundMessage), rows)
        announce(session, Channel.NEW_MAIL)


EXTERNAL = installations.EXTERNAL_SENDER
HELO = "bench.invalid"


def _submitted(raw: bytes, account_id: int | None) -> dict[str, object]:
    return {
        "raw": raw,
        "mail_from": installations.LOGIN,
        "rcpt_tos": [f"tasks@{installations.DOMAIN}"],
        "account_id": account_id,
        "client_address": "127.0.0.1",
        "helo": HELO,
        "tls_protocol": "TLSv1.3",
        "tls_cipher": "TLS_AES_256_GCM_SHA384",
        "auth_method": "password",
        "size": len(raw),
    }


def _from_mx(raw: bytes) -> dict[str, object]:
    resolver = StaticResolver(
        {installations.EXTERNAL_DOMAIN: {"TXT": [installations.EXTERNAL_SPF]}}
    )
    verdict = evaluate(raw, "127.0.0.1", HELO, EXTERNAL, resolver)
    results = authentication_results(verdict, installations.DOMAIN)
    stored = f"Authentication-Results: {results}\r\n".encode() + raw
    return {
        "raw": stored,
        "mail_from": EXTERNAL,
        "rcpt_tos": [f"tasks@{installations.DOMAIN}"],
        "client_address": "127.0.0.1",
        "helo": HELO,
        "verified_from": verdict.verified_from,
        "authentication_results": results,
        "size": len(stored),
    }


def unfinished(database: Database) -> int:
    """How many messages of the queue are not yet done or failed."""
    with database.sessions() as session:
        finished = (QueueStatus.DONE, QueueStatus.FAILED)
        query = select(func.count()).where(InboundMessage.status.not_in(finished))
        return int(session.scalar(query.select_from(InboundMessage)) or 0)


def one_round(
    database: Database,
    worker: ServerProcess,
    url: str,
    tag: str,
    count: int,
    sink: SinkWatch | None = None,
) -> Round:
    """Fill the queue with `count` commands and measure the worker until all are done.

    With a `sink`, the commands come through the MX port's verified sender, and
    the round ends when the sink has received every reply.
    """
    backends = BackendCpu(url)
    if sink is not None:
        sink.mark()
    before = worker.cpu_seconds()
    began = time.monotonic()
    fill(database, tag, count, relay=sink is not None)
    deadline = began + WAIT_SECONDS
    if sink is not None:
        received = sink.wait(count, timeout=WAIT_SECONDS, stall=WAIT_SECONDS)
        if len(received) < count:
            raise RuntimeError(f"the sink got {len(received)} of {count} replies")
    while unfinished(database):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not finish {count} messages in {WAIT_SECONDS} s")
        time.sleep(0.02)
    seconds = time.monotonic() - began
    return Round(count, seconds, worker.cpu_seconds() - before, backends.used())


def measure(*, postgres: bool, relay: bool, messages: int, rounds: int) -> list[Round]:
    """Start a worker on a fresh installation and run `rounds` batches of `messages` through it."""
    with tempfile.TemporaryDirectory(prefix="mailcmd-worker-alone-") as scratch:
        folder = Path(scratch)
        tls = installations.certificate(folder / "tls")
        url = installations.fresh_postgres("mailcmd_bench_worker") if postgres else None
        # The queue is filled from outside: on SQLite the worker finds it by looking.
        overrides = {"MAILCMD_WORKER__POLL_SECONDS": "0.05"}
        if relay:
            system = installations.mailcmd_relay(
                folder, "worker-alone", tls=tls, database_url=url, overrides=overrides
            )
        else:
            system = installations.mailcmd(
                folder, "worker-alone", tls=tls, database_url=url, work=False, overrides=overrides
            )
        assert system.database_url is not None
        sink = SinkWatch(system.sink_log) if system.sink_log is not None else None
        worker = ServerProcess(
            "worker",
            [sys.executable, "-m", "mailcmd", "worker"],
            system.server.env,
            folder / "worker.log",
        )
        database = installations.open_installation_database(system)
        measured: list[Round] = []
        try:
            for process in system.extra:
                process.start()
            worker.start()
            # A first small batch: templates, the account and the pools warm up.
            one_round(database, worker, system.database_url, "warm", 20, sink)
            for number in range(rounds):
                tag = f"r{number}"
                measured.append(
                    one_round(database, worker, system.database_url, tag, messages, sink)
                )
                print(f"round {number + 1}: {measured[-1].line()}", flush=True)
        finally:
            worker.stop()
            for process in system.extra:
                process.stop()
            database.close()
    return measured


def describe(measured: list[Round], *, postgres: bool, relay: bool) -> str:
    """The best and the median CPU per reply of the rounds, in one line."""
    figures = [one.cpu_ms_per_reply() for one in measured]
    engine = "PostgreSQL" if postgres else "SQLite"
    where = "relay" if relay else "INBOX"
    return (
        f"worker alone, {engine}, replies to the {where}: CPU per reply best"
        f" {min(figures):.2f} ms, median {statistics.median(figures):.2f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    """Measure the worker alone and print each round and the best and median figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--relay", action="store_true", help="replies through [relay] to a sink")
    options = parser.parse_args(argv)
    measured = measure(
        postgres=options.postgres,
        relay=options.relay,
        messages=options.messages,
        rounds=options.rounds,
    )
    print(describe(measured, postgres=options.postgres, relay=options.relay))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
