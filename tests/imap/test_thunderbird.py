"""A real Thunderbird, driven as a person would, sees the app's answer to each reply at once.

Issue 18: after a reply Thunderbird stores \\Answered on the message it replied to; an
EXISTS for the app's answer that came with that STORE's completion was ignored, and
the answer showed only at the next folder switch.
"""

import asyncio
import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trustme

from tests.conftest import ALICE, PASSWORD, Cli
from tests.servers import RunningServer, running_server, smtp_settings, wait_until
from tests.thunderbird import THUNDERBIRD, MailAccount, running_thunderbird

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        THUNDERBIRD is None, reason="Thunderbird is not installed (apt-get install thunderbird)"
    ),
]

ADDED = "Task 1 added: Buy milk"
COMMENTED = "Task 1 commented: Buy milk"
DONE = "Task 1 done: Buy milk"
# What a person writes above the quote, one reply after another, each to the app's
# latest answer, and the subject of the answer: a command line runs, prose is a comment.
REPLIES = (
    ("done", DONE),
    ("Two bottles.", COMMENTED),
    ("Oat milk, please.", COMMENTED),
)
# How soon after Thunderbird's STORE of \Answered the app's answer must show.
ANSWER_SECONDS = 3.0


class ImapCommands(logging.Handler):
    """The IMAP commands the server logs, each with its session and epoch second."""

    def __init__(self) -> None:
        """Record every command from now on."""
        super().__init__(logging.DEBUG)
        self.commands: list[tuple[int, float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The server logs a command in the task of the session that received it.
        task = asyncio.current_task()
        line = record.getMessage().split(": ", 1)[-1]
        self.commands.append((id(task), record.created, line))

    def idling_in_inbox(self) -> bool:
        """Whether a session that selected INBOX last has started IDLE since."""
        selected: dict[int, str] = {}
        for session, _, line in list(self.commands):
            words = line.split(" ", 2)
            if len(words) == 3 and words[1].lower() == "select":
                selected[session] = words[2].strip('"')
            if len(words) == 2 and words[1].upper() == "IDLE" and selected.get(session) == "INBOX":
                return True
        return False

    def answered_store(self, count: int) -> float | None:
        """When the `count`th `UID STORE ... +FLAGS (\\Answered)` came, if it has."""
        stores = [
            at
            for _, at, line in list(self.commands)
            if " store " in line.lower() and "\\answered" in line.lower()
        ]
        return stores[count - 1] if len(stores) >= count else None


@pytest.fixture
def imap_commands() -> Iterator[ImapCommands]:
    """What the IMAP server is asked, from the debug log of its dispatcher."""
    logger = logging.getLogger("mailcmd.imap.command_loop")
    handler = ImapCommands()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def working_server(
    accounts: Cli, database_url: str, tmp_path: Path, certificate_authority: trustme.CA
) -> Iterator[RunningServer]:
    """The bundled app with its worker, on a certificate for 127.0.0.1 from the test CA."""
    leaf = certificate_authority.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(leaf.cert_chain_pems[0].bytes())
    key.write_bytes(leaf.private_key_pem.bytes())
    # IDLE's own look for changes is far apart, so that only the delivery's news counts.
    settings = smtp_settings(
        tmp_path / "state", database_url, tls_cert=cert, tls_key=key, imap={"check_seconds": 60}
    )
    with running_server(settings, work=True) as server:
        yield server


def test_thunderbird_shows_the_answer_to_each_reply_within_seconds_of_marking_it_answered(
    working_server: RunningServer,
    certificate_authority: trustme.CA,
    imap_commands: ImapCommands,
) -> None:
    account = MailAccount(
        ALICE,
        PASSWORD,
        imap_port=working_server.port("imaps"),
        smtp_port=working_server.port("submissions"),
    )
    delays = []
    with running_thunderbird(account) as thunderbird:
        thunderbird.go_online(certificate_authority.cert_pem.bytes().decode())
        thunderbird.get_messages()
        wait_until(imap_commands.idling_in_inbox, "Thunderbird idling in its INBOX")
        thunderbird.watch_inbox()

        thunderbird.write("tasks@app.localhost", "add Buy milk", "Oat milk, please.")
        thunderbird.await_shown(ADDED, 1)
        answered = ADDED
        for round, (first_line, answer) in enumerate(REPLIES, start=1):
            thunderbird.reply(answered, first_line)
            times = [subject for _, subject in REPLIES[:round]].count(answer)
            shown_at = thunderbird.await_shown(answer, times)
            stored_at = wait_until(
                partial(imap_commands.answered_store, round),
                f"Thunderbird's STORE of \\Answered after reply {round}",
            )
            delays.append(shown_at - stored_at)
            answered = answer
        displayed = thunderbird.displayed()
    # Shown with -rA: how long Thunderbird took, for the record of issue 18.
    print(f"seconds from each STORE of \\Answered to the answer showing: {delays}")

    assert displayed["folder"] == displayed["inbox"]
    assert displayed["subjects"].count(DONE) == 1
    assert displayed["subjects"].count(COMMENTED) == 2
    assert all(delay < ANSWER_SECONDS for delay in delays), delays
