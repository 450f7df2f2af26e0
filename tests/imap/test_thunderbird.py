"""A real Thunderbird, driven as a person would, sees the app's answer to each reply at once.

Issue 18: after a reply Thunderbird stores \\Answered on the message it replied to; an
EXISTS for the app's answer that came with that STORE's completion was ignored, and
the answer showed only at the next folder switch.
"""

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trustme

from tests.conftest import ALICE, PASSWORD, Cli
from tests.servers import RunningServer, running_server, smtp_settings, wait_until
from tests.thunderbird import (
    NEEDS_THUNDERBIRD,
    ImapCommands,
    MailAccount,
    logged_imap_commands,
    running_thunderbird,
)

pytestmark = NEEDS_THUNDERBIRD

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


@pytest.fixture
def imap_commands() -> Iterator[ImapCommands]:
    """What the IMAP server is asked, from the debug log of its dispatcher."""
    with logged_imap_commands() as commands:
        yield commands


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
        wait_until(partial(imap_commands.idling_in, "INBOX"), "Thunderbird idling in its INBOX")
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
