"""Acting by flags and moves: what a client does in Tasks runs the tasks app's commands.

Each action is queued with the client's change and run by the worker like mail; the
folder then shows the task as the app has it, which undoes an action refused.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_folders_support import (
    IDLE_BOUND,
    folder,
    folder_server,
    inbox,
    login,
    send,
    showing,
    subjects,
)
from tests.conftest import ALICE, Cli
from tests.imap_support import LOGIN, raw_imap
from tests.servers import RunningServer, wait_until

MILK = "Buy milk (open, task 1)"
PLANTS = "Water the plants (open, task 2)"


@pytest.fixture
def two_tasks(accounts: Cli, database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A server with its worker, and alice's tasks 1 (milk) and 2 (plants) in her Tasks."""
    with folder_server(accounts, database_url, tmp_path / "state") as server:
        send(server, ALICE, "add Buy milk")
        showing(server, "Tasks", 1)
        send(server, ALICE, "add Water the plants")
        showing(server, "Tasks", 2)
        yield server


def uid_of(server: RunningServer, name: str, subject: str, who: str = ALICE) -> int:
    """The UID of the message with `subject` in `who`'s folder `name`."""
    client = login(server, who)
    try:
        client.select(f'"{name}"', readonly=True)
        typ, data = client.uid("SEARCH", "SUBJECT", f'"{subject}"')
        assert typ == "OK"
        [uid] = data[0].split()
        return int(uid)
    finally:
        client.logout()


def act(server: RunningServer, name: str, command: str, *args: str, who: str = ALICE) -> tuple:
    """Run one UID command in `who`'s folder `name`; return imaplib's (type, data)."""
    client = login(server, who)
    try:
        typ, _ = client.select(f'"{name}"')
        assert typ == "OK"
        return client.uid(command, *args)
    finally:
        client.logout()


def task_mail(server: RunningServer, name: str, number: int) -> str:
    """The text of task `number`'s message in alice's folder `name` ('' if not there)."""
    for message in folder(server, name):
        if f"task {number})" in str(message["Subject"]):
            return str(message.get_content())
    return ""


def answers(server: RunningServer) -> list[str]:
    """The subjects in alice's INBOX: the app's answers."""
    return subjects(server, "INBOX")


def test_a_star_makes_a_task_high_priority_and_a_show_by_mail_says_so(
    two_tasks: RunningServer,
) -> None:
    before = answers(two_tasks)
    uid = uid_of(two_tasks, "Tasks", MILK)

    typ, _ = act(two_tasks, "Tasks", "STORE", str(uid), "+FLAGS", "(\\Flagged)")

    assert typ == "OK"
    assert "Priority: high" in wait_until(
        lambda: (text := task_mail(two_tasks, "Tasks", 1)) and "Priority: high" in text and text,
        "task 1's message saying high priority",
    )
    send(two_tasks, ALICE, "show 1")
    shown = wait_until(
        lambda: next((m for m in inbox(two_tasks) if "Task 1 shown" in str(m["Subject"])), None),
        "the answer to show 1",
    )
    assert re.search(r"Priority:\s+high", shown.get_body(("plain",)).get_content())
    # The star stays on the task's new message, and the other task is untouched.
    assert flags_by_subject(two_tasks) == {MILK: "\\Flagged", PLANTS: ""}
    # Done as asked: the folder shows it, and no mail says so.
    assert len(answers(two_tasks)) == len(before) + 1

    uid = uid_of(two_tasks, "Tasks", MILK)
    act(two_tasks, "Tasks", "STORE", str(uid), "-FLAGS", "(\\Flagged)")

    wait_until(
        lambda: "Priority: normal" in task_mail(two_tasks, "Tasks", 1),
        "task 1 back to normal priority",
    )


def flags_by_subject(server: RunningServer, name: str = "Tasks") -> dict[str, str]:
    """The flags of each message in alice's folder `name`, by subject."""
    client = login(server)
    try:
        client.select(f'"{name}"', readonly=True)
        typ, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        found = {}
        for item in data:
            if isinstance(item, tuple):
                flags = re.search(rb"FLAGS \(([^)]*)\)", item[0])
                assert flags is not None
                subject = item[1].decode().split(":", 1)[1].strip()
                found[subject] = flags.group(1).decode()
        return found
    finally:
        client.logout()


def test_a_priority_set_by_mail_shows_as_the_star(two_tasks: RunningServer) -> None:
    send(two_tasks, ALICE, "edit 2 --priority high")

    assert wait_until(
        lambda: flags_by_subject(two_tasks).get(PLANTS) == "\\Flagged",
        "task 2's message starred",
    )


def test_a_move_to_done_marks_the_task_done_and_an_idle_client_sees_it(
    two_tasks: RunningServer,
) -> None:
    with raw_imap(two_tasks.port("imaps"), two_tasks.tls_client_context) as watcher:
        watcher.sock.settimeout(IDLE_BOUND)
        assert watcher.command(b"w1", LOGIN)[-1].startswith(b"w1 OK")
        assert watcher.command(b"w2", b"SELECT Tasks")[-1].startswith(b"w2 OK")
        watcher.send(b"w3 IDLE\r\n")
        assert watcher.line() == b"+ idling"

        uid = uid_of(two_tasks, "Tasks", MILK)
        typ, _ = act(two_tasks, "Tasks", "MOVE", str(uid), "Tasks/Done")

        assert typ == "OK"
        # The mover's own change: task 1's message, the first, left Tasks at once.
        assert watcher.line() == b"* 1 EXPUNGE"
    assert wait_until(
        lambda: subjects(two_tasks, "Tasks/Done") == ["Buy milk (done, task 1)"],
        "task 1 done, in Tasks/Done",
    )
    assert subjects(two_tasks, "Tasks") == [PLANTS]
    assert "Status:   done" in task_mail(two_tasks, "Tasks/Done", 1)

    uid = uid_of(two_tasks, "Tasks/Done", "Buy milk (done, task 1)")
    act(two_tasks, "Tasks/Done", "MOVE", str(uid), "Tasks")

    assert wait_until(
        lambda: sorted(subjects(two_tasks, "Tasks")) == [MILK, PLANTS],
        "task 1 reopened, back in Tasks",
    )
    assert subjects(two_tasks, "Tasks/Done") == []


def test_the_done_keyword_marks_a_task_done(two_tasks: RunningServer) -> None:
    uid = uid_of(two_tasks, "Tasks", PLANTS)

    act(two_tasks, "Tasks", "STORE", str(uid), "+FLAGS", "($Done)")

    assert wait_until(
        lambda: subjects(two_tasks, "Tasks/Done") == ["Water the plants (done, task 2)"],
        "task 2 done",
    )
    assert flags_by_subject(two_tasks, "Tasks/Done") == {"Water the plants (done, task 2)": "$Done"}
