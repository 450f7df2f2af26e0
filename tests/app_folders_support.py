"""What the app-folder tests share: a server with its worker, and a client's look at a folder."""

import email
import email.policy
import imaplib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

from tests.conftest import ALICE, PASSWORD, Cli
from tests.imap_support import imap_client
from tests.servers import RunningServer, running_server, smtp_settings, wait_until

BOB = "bob@app.localhost"
# How long an IDLE may wait for a change a mail made: the worker runs it at once.
IDLE_BOUND = 5.0


@contextmanager
def folder_server(
    accounts: Cli, database_url: str, state: Path, app: dict[str, Path] | None = None
) -> Iterator[RunningServer]:
    """A server with its worker and a small app folder limit; alice and bob may log in.

    `app` (its `commands` and `templates` folders) replaces the bundled tasks app.
    """
    assert accounts("users", "enable", BOB).exit_code == 0
    settings = smtp_settings(
        state, database_url, imap={"check_seconds": 30.0, "app_folder_limit": 3}
    )
    if app is not None:
        settings = settings.model_copy(update=app)
    with running_server(settings, work=True) as server:
        yield server


def send(
    server: RunningServer,
    sender: str,
    subject: str,
    to: str = "tasks@app.localhost",
    body: str = "",
) -> None:
    smtp = server.submission()
    smtp.login(sender, PASSWORD)
    smtp.sendmail(
        sender,
        [to],
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash((sender, subject, to, body)))}@app.localhost>\r\n\r\n"
        f"{body}\r\n".encode(),
    )


def login(server: RunningServer, who: str = ALICE) -> imaplib.IMAP4:
    client = imap_client(server)
    client.login(who, PASSWORD)
    return client


def folder(server: RunningServer, name: str, who: str = ALICE) -> list[EmailMessage]:
    """The messages of `who`'s folder `name`, in UID order, as a fresh login sees them."""
    client = login(server, who)
    try:
        typ, _ = client.select(f'"{name}"', readonly=True)
        assert typ == "OK"
        typ, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
        assert typ == "OK"
        messages = [item[1] for item in data if isinstance(item, tuple)]
        return [
            email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
            for raw in messages
        ]
    finally:
        client.logout()


def subjects(server: RunningServer, name: str, who: str = ALICE) -> list[str]:
    return [str(message["Subject"]) for message in folder(server, name, who)]


def showing(server: RunningServer, name: str, count: int, who: str = ALICE) -> list[str]:
    """Wait until `who`'s folder shows `count` messages; return their subjects."""
    return wait_until(
        lambda: (found := subjects(server, name, who)) and len(found) == count and found,
        f"{count} messages in {who}'s {name}",
    )


def flags_and_uids(server: RunningServer, name: str) -> list[tuple[int, str]]:
    """The UIDs and flags of alice's folder `name`, as a fresh login sees them.

    A message replaced between the SELECT and the FETCH fetches as nothing (the
    session hears of the replacement only at its next NOOP or IDLE): an empty
    answer then, for the caller to look again.
    """
    client = login(server)
    try:
        client.select(f'"{name}"', readonly=True)
        typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK"
        found = []
        for line in data:
            if line is None:
                continue
            assert isinstance(line, bytes)
            match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)", line)
            assert match is not None, line
            uid = match.group(1) or match.group(4)
            flags = match.group(2) if match.group(2) is not None else match.group(3)
            found.append((int(uid), flags.decode()))
        return found
    finally:
        client.logout()


def inbox(server: RunningServer) -> list[EmailMessage]:
    """Alice's INBOX: the app's answers."""
    return folder(server, "INBOX")
