"""The rounds of `bench.folders` against one running mailcmd: mail, star and move, timed.

Three IMAPS connections of the load's account: the actor (selects `Tasks`, stars
and moves), the watcher (IDLE on the folder that should change) and the inbox
(IDLE on INBOX, for replies). Mail goes through one submission connection
(STARTTLS + AUTH), kept open.
"""

import smtplib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes

from sqlalchemy import MetaData, Table, func, insert, select

from bench import installations
from bench.imap_client import ImapClient, moved_uid
from bench.installations import Installation, open_installation_database
from bench.load import client_tls_context
from bench.replies import ReplyWatch
from bench.worker_alone import message
from mailcmd.db.models import Account

TASKS, DONE = "Tasks", "Tasks/Done"
REPLY_SECONDS = 30.0


@dataclass
class Series:
    """One measure on one database: each round's latency in seconds, and the server's CPU."""

    engine: str
    measure: str
    latencies: list[float] = field(default_factory=list)
    # The server process's CPU seconds over all rounds (the INBOX reply of the adds only).
    cpu_seconds: float | None = None


class FolderRounds:
    """Times one installation's app folders; `close` lets go of its connections."""

    def __init__(self, installation: Installation, imap_port: int) -> None:
        """Connect to `installation`'s submission port and its IMAPS port `imap_port`."""
        self._installation = installation
        self._database = open_installation_database(installation)
        self._replies = ReplyWatch(open_installation_database(installation))
        login, password = installations.LOGIN, installations.PASSWORD
        self._smtp = smtplib.SMTP("127.0.0.1", installation.submission_port, timeout=30)
        self._smtp.starttls(context=client_tls_context())
        self._smtp.login(login, password)
        self.actor = ImapClient(imap_port, login, password)
        self.watcher = ImapClient(imap_port, login, password)
        self.inbox = ImapClient(imap_port, login, password)
        self.actor.select(TASKS)
        self.watcher.select(TASKS)
        self.inbox.select("INBOX")
        # The two IDLE clients of a mailed `add` are read at once, each in a thread.
        self._threads = ThreadPoolExecutor(2)
        self._sent = 0

    def close(self) -> None:
        """Close the mail and IMAP connections and the databases."""
        self._smtp.quit()
        self.actor.close()
        self.watcher.close()
        self.inbox.close()
        self._threads.shutdown()
        self._replies.close()
        self._database.close()

    def adds(self, rounds: int, shown: int) -> list[Series]:
        """Mail `add` `rounds` times, timed to its message in `Tasks` and to its reply.

        `shown` is the number of tasks in the folder before the first round (each
        round adds one; past `imap.app_folder_limit` the oldest leaves). The reply is
        timed twice: to the EXISTS of an IDLE client on INBOX (when a person sees
        it), and to its INTERNALDATE (as `bench.run`'s reply columns; stamped
        when the reply is made, before the folder's sync and the commit).
        """
        engine = self._installation.engine
        size = f"{shown}+{rounds} tasks"
        found = [
            Series(engine, f"add -> Tasks ({size})"),
            Series(engine, f"add -> INBOX reply ({size})"),
            Series(engine, f"add -> reply INTERNALDATE ({size})"),
        ]
        cpu_before = self._installation.server.cpu_seconds()
        for _ in range(rounds):
            for series, seconds in zip(found, self.add(), strict=True):
                series.latencies.append(seconds)
        found[1].cpu_seconds = self._installation.server.cpu_seconds() - cpu_before
        return found

    def add(self) -> tuple[float, float, float]:
        """Mail one `add`: seconds from its 250 to its EXISTS in Tasks, in INBOX, and to
        its reply's INTERNALDATE."""
        self.watcher.select(TASKS)
        newest = [client.newest() for client in (self.watcher, self.inbox)]
        self._sent += 1
        tag = f"folders-{self._installation.engine}-{self._sent}-{time.monotonic_ns()}"
        raw = message(tag)
        message_id = str(message_from_bytes(raw)["Message-ID"])
        self._replies.mark()
        self.watcher.idle()
        self.inbox.idle()
        self._smtp.sendmail(installations.LOGIN, [f"tasks@{installations.DOMAIN}"], raw)
        sent, sent_wall = time.perf_counter(), time.time()
        waits = [
            self._threads.submit(client.until_newer, last.uid if last else 0)
            for client, last in zip((self.watcher, self.inbox), newest, strict=True)
        ]
        (in_folder, _), (in_inbox, _) = (wait.result() for wait in waits)
        return in_folder - sent, in_inbox - sent, self._reply_at(message_id) - sent_wall

    def stars(self, rounds: int) -> Series:
        """Star the oldest unstarred task `rounds` times: from the STORE's OK to its new message."""
        self.watcher.select(TASKS)
        self.actor.select(TASKS)
        size = len(self.actor.messages())
        series = Series(self._installation.engine, f"star -> view ({size} tasks)")
        for _ in range(rounds):
            target = next(m for m in self.actor.messages() if "\\Flagged" not in m.flags)
            newest = self.watcher.newest()
            assert newest is not None
            self.watcher.idle()
            self.actor.command(f"UID STORE {target.uid} +FLAGS (\\Flagged)")
            stored = time.perf_counter()
            seen_at, replaced = self.watcher.until_newer(newest.uid)
            if "\\Flagged" not in replaced.flags:
                raise AssertionError(f"the replacement of UID {target.uid} is not starred")
            series.latencies.append(seen_at - stored)
        return series

    def moves(self, rounds: int) -> Series:
        """Move the oldest task to Done `rounds` times: from the MOVE's OK to the done message."""
        self.watcher.select(DONE)
        self.actor.select(TASKS)
        size = len(self.actor.messages())
        series = Series(self._installation.engine, f"move -> Done view ({size} tasks)")
        for _ in range(rounds):
            target = self.actor.messages()[0]
            self.watcher.idle()
            untagged, _ = self.actor.command(f'UID MOVE {target.uid} "{DONE}"')
            moved = time.perf_counter()
            seen_at, _ = self.watcher.until_newer(moved_uid(untagged))
            series.latencies.append(seen_at - moved)
        return series

    def fill(self, shown: int) -> None:
        """Add open tasks in the database until the account has `shown`, then mail one more.

        The tasks go in as rows of the app's table (as an import would make
        them); the mailed `add` (not timed) makes the folder show them.
        """
        tasks = Table("tasks", MetaData(), autoload_with=self._database.engine)
        with self._database.writing() as session, session.begin():
            owner = session.scalar(select(Account.id).where(Account.login == installations.LOGIN))
            open_now = session.scalar(
                select(func.count()).select_from(tasks).where(tasks.c.done_at.is_(None))
            )
            missing = max(0, shown - 1 - int(open_now or 0))
            now = datetime.now(UTC)
            rows: list[dict[str, object]] = [
                {
                    "owner_id": owner,
                    "title": f"Filled task {index}",
                    "description": "",
                    "tags": [],
                    "priority": "normal",
                    "created_at": now,
                }
                for index in range(missing)
            ]
            if rows:
                session.execute(insert(tasks), rows)
        self.watcher.select(TASKS)
        self.add()

    def _reply_at(self, message_id: str) -> float:
        deadline = time.monotonic() + REPLY_SECONDS
        while time.monotonic() < deadline:
            for reply in self._replies.wait(1, timeout=REPLY_SECONDS, stall=REPLY_SECONDS):
                if reply.answers == message_id:
                    return reply.stored_at
            time.sleep(0.01)
        raise TimeoutError(f"no reply to {message_id} within {REPLY_SECONDS:.0f} s")
