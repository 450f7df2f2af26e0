"""The app as a folder: the tasks app's Tasks and Tasks/Done, live in every client's mailbox."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from mailcmd.db.database import open_database
from mailcmd.db.models import MailFolder, MailMessage
from mailcmd.imap.mailstore import local_account_id
from tests.app_folders_support import (
    BOB,
    IDLE_BOUND,
    flags_and_uids,
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


@pytest.fixture
def working_server(accounts: Cli, database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A server with its worker and a small app folder limit; alice and bob may log in."""
    with folder_server(accounts, database_url, tmp_path / "state") as server:
        yield server


def test_the_tasks_folder_shows_each_task_with_a_reply_to_that_continues_it(
    working_server: RunningServer,
) -> None:
    send(working_server, ALICE, "add Buy milk")
    # One at a time, so that their numbers are known.
    showing(working_server, "Tasks", 1)
    send(working_server, ALICE, "add Water the plants")
    assert sorted(showing(working_server, "Tasks", 2)) == [
        "Buy milk (open, task 1)",
        "Water the plants (open, task 2)",
    ]
    client = login(working_server)
    typ, listed = client.list()
    client.logout()
    assert typ == "OK"
    names = [line.decode().rsplit(" ", 1)[1].strip('"') for line in listed if line]
    assert sorted(names) == [
        "Archive",
        "Drafts",
        "INBOX",
        "Junk",
        "Sent",
        "Tasks",
        "Tasks/Done",
        "Trash",
    ]

    milk = next(m for m in folder(working_server, "Tasks") if "milk" in str(m["Subject"]))
    reply_to = str(milk["Reply-To"])
    assert re.fullmatch(r"tasks\+1\.[A-Za-z0-9]+@app\.localhost", reply_to)
    send(working_server, ALICE, "Re: Buy milk", to=reply_to, body="semi-skimmed, please")

    wait_until(
        lambda: any(
            "semi-skimmed, please" in m.get_content()
            for m in folder(working_server, "Tasks")
            if "milk" in str(m["Subject"])
        ),
        "the comment in the task's message",
    )


def test_a_task_added_or_done_by_mail_reaches_a_client_in_idle(
    working_server: RunningServer,
) -> None:
    send(working_server, ALICE, "add Buy milk")
    showing(working_server, "Tasks", 1)
    with raw_imap(working_server.port("imaps"), working_server.tls_client_context) as client:
        client.sock.settimeout(IDLE_BOUND)
        assert client.command(b"a1", LOGIN)[-1].startswith(b"a1 OK")
        assert client.command(b"a2", b"SELECT Tasks")[-1].startswith(b"a2 OK")
        client.send(b"a3 IDLE\r\n")
        assert client.line() == b"+ idling"

        send(working_server, ALICE, "add Water the plants")

        # check_seconds is 30: only the announcement can bring it within the bound.
        assert client.line() == b"* 2 EXISTS"
        assert client.line() == b"* 1 RECENT"

        send(working_server, ALICE, "done 1")

        # Task 1's message, the first, leaves the folder for Tasks/Done.
        assert client.line() == b"* 1 EXPUNGE"


def test_done_moves_a_task_from_tasks_to_tasks_done(working_server: RunningServer) -> None:
    send(working_server, ALICE, "add Buy milk")
    # One at a time, so that their numbers are known.
    showing(working_server, "Tasks", 1)
    send(working_server, ALICE, "add Water the plants")
    showing(working_server, "Tasks", 2)

    send(working_server, ALICE, "done 1")

    assert showing(working_server, "Tasks/Done", 1) == ["Buy milk (done, task 1)"]
    assert subjects(working_server, "Tasks") == ["Water the plants (open, task 2)"]


def test_a_shared_task_shows_in_both_folders_and_follows_the_owners_edit(
    working_server: RunningServer,
) -> None:
    send(working_server, ALICE, "add Buy milk")
    showing(working_server, "Tasks", 1)
    send(working_server, ALICE, "share 1 bob@app.localhost")
    # Sharing asks first: alice confirms by answering the question's Reply-To.
    question = wait_until(
        lambda: next(
            (m for m in inbox(working_server) if "Share task 1" in str(m["Subject"])),
            None,
        ),
        "the question whether to share",
    )
    send(working_server, ALICE, "Re: share", to=str(question["Reply-To"]), body="yes")
    assert showing(working_server, "Tasks", 1, who=BOB) == ["Buy milk (open, task 1)"]

    send(working_server, ALICE, 'edit 1 --title "Buy oat milk"')

    assert wait_until(
        lambda: subjects(working_server, "Tasks", BOB) == ["Buy oat milk (open, task 1)"],
        "alice's edit in bob's folder",
    )


def test_append_copy_rename_and_delete_of_an_app_folder_are_refused(
    working_server: RunningServer,
) -> None:
    send(working_server, ALICE, "add Buy milk")
    showing(working_server, "INBOX", 1)
    client = login(working_server)
    try:
        typ, data = client.append("Tasks", None, None, b"Subject: mine\r\n\r\nhello\r\n")
        assert (typ, data[0]) == ("NO", b"[CANNOT] Tasks is kept by the tasks app")
        client.select("INBOX")
        typ, data = client.copy("1", "Tasks")
        assert (typ, data[0]) == (
            "NO",
            b"[CANNOT] Tasks shows the tasks app's objects:"
            b" only its own messages move into it, from Tasks/Done",
        )
        typ, data = client.rename("Tasks", "Chores")
        assert (typ, data[0]) == ("NO", b"[CANNOT] Tasks is kept by the tasks app")
        typ, data = client.delete("Tasks/Done")
        assert (typ, data[0]) == ("NO", b"[CANNOT] Tasks/Done is kept by the tasks app")
    finally:
        client.logout()


def test_the_folder_shows_the_newest_tasks_up_to_the_limit(working_server: RunningServer) -> None:
    for title in ["One", "Two", "Three", "Four"]:
        send(working_server, ALICE, f"add {title}")
    numbers = wait_until(
        lambda: (found := task_numbers(working_server)) and len(found) == 4 and found,
        "the four tasks' numbers",
    )
    wait_until(
        lambda: f"(open, task {max(numbers)})" in " ".join(subjects(working_server, "Tasks")),
        "the newest task in the folder",
    )

    # The limit is 3: the oldest task is not shown.
    shown = [re.search(r"task (\d+)\)$", s) for s in subjects(working_server, "Tasks")]
    assert sorted(int(match.group(1)) for match in shown if match) == sorted(numbers)[1:]


def task_numbers(server: RunningServer) -> list[int]:
    """The numbers of the tasks alice's INBOX says were added."""
    added = (re.fullmatch(r"Task (\d+) added: .*", s) for s in subjects(server, "INBOX"))
    return [int(match.group(1)) for match in added if match]


def test_a_folder_rebuilt_from_nothing_shows_the_same_messages(
    working_server: RunningServer,
) -> None:
    send(working_server, ALICE, "add Buy milk")
    # One at a time, so that their numbers are known.
    showing(working_server, "Tasks", 1)
    send(working_server, ALICE, "add Water the plants")
    showing(working_server, "Tasks", 2)
    before = [
        (str(m["Message-ID"]), str(m["Subject"]), str(m["Reply-To"]), str(m["Date"]))
        for m in folder(working_server, "Tasks")
    ]
    database = open_database(working_server.settings.database_url)
    try:
        with database.writing() as session, session.begin():
            account_id = local_account_id(session, ALICE)
            tasks = select(MailFolder.id).where(
                MailFolder.account_id == account_id, MailFolder.name == "Tasks"
            )
            session.execute(delete(MailMessage).where(MailMessage.folder_id.in_(tasks)))
    finally:
        database.close()
    assert folder(working_server, "Tasks") != []  # a login syncs: the messages are back

    after = [
        (str(m["Message-ID"]), str(m["Subject"]), str(m["Reply-To"]), str(m["Date"]))
        for m in folder(working_server, "Tasks")
    ]
    # The same messages; in UID order, oldest task first, which two workers may have
    # appended the other way round.
    assert sorted(after) == sorted(before)


def test_a_clients_flags_stay_when_the_tasks_message_is_replaced(
    working_server: RunningServer,
) -> None:
    send(working_server, ALICE, "add Buy milk")
    showing(working_server, "Tasks", 1)
    client = login(working_server)
    client.select("Tasks")
    typ, _ = client.uid("STORE", "1", "+FLAGS", "($Later)")
    client.logout()
    assert typ == "OK"

    send(working_server, ALICE, "edit 1 --priority high")

    [(uid, flags)] = wait_until(
        lambda: (found := flags_and_uids(working_server, "Tasks")) and found[0][0] > 1 and found,
        "the task's new message",
    )
    assert uid == 2
    # The client's own keyword stays; the star is the app's: the task is high priority.
    assert set(flags.split()) == {"\\Flagged", "$Later"}
    assert "Priority: high" in folder(working_server, "Tasks")[0].get_content()
