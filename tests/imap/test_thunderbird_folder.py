"""A real Thunderbird, driven as a person would, lives in the tasks app's folder (issue 20).

Alice has two tasks before Thunderbird starts. Thunderbird shows the folders `Tasks`
and `Tasks/Done`, lists the tasks, and shows a task added by mail while it idles in
`Tasks`; starring a task there (and unstarring it) and moving one to `Tasks/Done`
(and back) act on the app within seconds, and the list follows the app without a
folder switch. Deleting one asks by mail first (the task shows again meanwhile), and
the answer `yes`, sent from Thunderbird too, deletes it. Thunderbird's own front-end
code does each step (the star button's handler, the Move To command, the Delete
key's command, Reply and Send), so that Thunderbird itself sends the IMAP and SMTP
commands.
"""

import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest
import trustme
from sqlalchemy import text

from mailcmd.db.database import Database, open_database
from tests.conftest import ALICE, PASSWORD, Cli
from tests.servers import TIMEOUT, RunningServer, running_server, smtp_settings, wait_until
from tests.thunderbird import (
    NEEDS_THUNDERBIRD,
    ImapCommands,
    ListedRow,
    ListedRows,
    MailAccount,
    Thunderbird,
    logged_imap_commands,
    running_thunderbird,
)

pytestmark = NEEDS_THUNDERBIRD

TASKS = "tasks@app.localhost"
# The tasks' messages, as templates/tasks/folder-item.txt titles them.
MILK = "Buy milk (open, task 1)"
PLANTS = "Water the plants (open, task 2)"
PLANTS_DONE = "Water the plants (done, task 2)"
PLUMBER = "Call the plumber (open, task 3)"
# How soon Thunderbird must show what the server announced in IDLE (the issue asks a
# second of the server; Thunderbird's own fetch after the EXISTS comes on top).
SHOW_SECONDS = 3.0
# How soon the app must have done what Thunderbird did ("within seconds").
ACT_SECONDS = 5.0


@pytest.fixture
def imap_commands() -> Iterator[ImapCommands]:
    """What the IMAP server is asked, from the debug log of its dispatcher."""
    with logged_imap_commands() as commands:
        yield commands


@pytest.fixture
def working_server(
    accounts: Cli,
    database_url: str,
    tmp_path: Path,
    certificate_authority: trustme.CA,
    client_context: ssl.SSLContext,
) -> Iterator[RunningServer]:
    """The bundled app with its worker, on a certificate from the test CA; alice has two tasks.

    IDLE's own look for changes is far apart, so that only the server's announcement
    of a change can bring it to Thunderbird within a test.
    """
    leaf = certificate_authority.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(leaf.cert_chain_pems[0].bytes())
    key.write_bytes(leaf.private_key_pem.bytes())
    settings = smtp_settings(
        tmp_path / "state", database_url, tls_cert=cert, tls_key=key, imap={"check_seconds": 60}
    )
    with running_server(settings, work=True) as server:
        database = open_database(database_url)
        try:
            # One at a time, so that their numbers are known.
            add(server, client_context, "Buy milk")
            wait_until(partial(task, database, 1), "task 1 in the app")
            add(server, client_context, "Water the plants")
            wait_until(partial(task, database, 2), "task 2 in the app")
        finally:
            database.close()
        yield server


@pytest.fixture
def client_context(certificate_authority: trustme.CA) -> ssl.SSLContext:
    """A client's TLS context that trusts the test CA, as Thunderbird is told to."""
    context = ssl.create_default_context()
    certificate_authority.configure_trust(context)
    return context


def add(server: RunningServer, context: ssl.SSLContext, title: str) -> None:
    """Alice adds a task by mail, as any mail client sends it."""
    with smtplib.SMTP_SSL(
        "127.0.0.1", server.port("submissions"), timeout=TIMEOUT, context=context
    ) as client:
        client.login(ALICE, PASSWORD)
        client.sendmail(
            ALICE, [TASKS], f"From: {ALICE}\r\nTo: {TASKS}\r\nSubject: add {title}\r\n\r\n".encode()
        )


@pytest.fixture
def app_database(database_url: str) -> Iterator[Database]:
    """The database the app keeps its tasks in, to read what it made of an action."""
    database = open_database(database_url)
    try:
        yield database
    finally:
        database.close()


def task(database: Database, number: int) -> tuple[str, datetime | None] | None:
    """Task `number`'s priority and when it was done, as the app's table holds them."""
    with database.engine.connect() as connection:
        row = connection.execute(
            text("SELECT priority, done_at FROM tasks WHERE id = :id"), {"id": number}
        ).one_or_none()
    return None if row is None else (row[0], row[1])


@pytest.fixture
def thunderbird(
    working_server: RunningServer,
    certificate_authority: trustme.CA,
    imap_commands: ImapCommands,
) -> Iterator[Thunderbird]:
    """Thunderbird with alice's account online, showing her Tasks folder, idling in it."""
    account = MailAccount(
        ALICE,
        PASSWORD,
        imap_port=working_server.port("imaps"),
        smtp_port=working_server.port("submissions"),
    )
    with running_thunderbird(account) as running:
        running.go_online(certificate_authority.cert_pem.bytes().decode())
        running.get_messages()
        running.open_folder("Tasks")
        wait_until(partial(imap_commands.idling_in, "Tasks"), "Thunderbird idling in Tasks")
        yield running


def listing(*subjects: str) -> Callable[[ListedRows], bool]:
    """Whether the list shows the Tasks folder with exactly `subjects`, in any order."""
    return lambda rows: rows.folder == "Tasks" and sorted(rows.subjects) == sorted(subjects)


def row_of(rows: ListedRows, subject: str) -> ListedRow:
    """The row titled `subject`, which the list must show."""
    found = rows.titled(subject)
    assert found is not None, rows
    return found


def test_thunderbird_shows_the_tasks_folder_and_a_task_added_by_mail_without_a_folder_switch(
    working_server: RunningServer,
    thunderbird: Thunderbird,
    imap_commands: ImapCommands,
    client_context: ssl.SSLContext,
) -> None:
    assert {"Tasks", "Tasks/Done"} <= set(thunderbird.folder_pane())
    thunderbird.await_rows(f"{MILK!r} and {PLANTS!r}", listing(MILK, PLANTS))

    sent = time.time()
    add(working_server, client_context, "Call the plumber")
    rows, shown = thunderbird.await_rows(f"{PLUMBER!r} too", listing(MILK, PLANTS, PLUMBER))

    # Shown with -rA: how long Thunderbird took, and what it asked, for the record.
    print(f"seconds from the mail's acceptance to its task's row: {shown - sent:.2f}")
    print("Thunderbird's commands since:", imap_commands.since(sent))
    assert shown - sent < SHOW_SECONDS, shown - sent
    assert not any(row.starred for row in rows.rows), rows


def test_starring_and_moving_a_task_in_thunderbird_act_on_the_app_and_the_list_follows(
    thunderbird: Thunderbird, imap_commands: ImapCommands, app_database: Database
) -> None:
    rows, _ = thunderbird.await_rows(f"{MILK!r} and {PLANTS!r}", listing(MILK, PLANTS))
    starred_uid = next(row.uid for row in rows.rows if row.subject == MILK)

    clicked = time.time()
    thunderbird.star(MILK)
    high = wait_until(
        lambda: (found := task(app_database, 1)) and found[0] == "high" and time.time(),
        "task 1's priority high after its star",
    )
    # The app replaced the task's message (Priority: high): a new UID, starred because
    # the app's view flags a task of high priority, which Thunderbird shows in IDLE.
    rows, replaced = thunderbird.await_rows(
        f"{MILK!r} replaced, starred",
        lambda rows: (
            listing(MILK, PLANTS)(rows)
            and (row := rows.titled(MILK)) is not None
            and row.uid != starred_uid
            and row.starred
        ),
    )
    print(f"seconds from the star's click to priority high: {high - clicked:.2f}")
    print(f"seconds from the star's click to the replaced message's row: {replaced - clicked:.2f}")
    print("Thunderbird's commands since the click:", imap_commands.since(clicked))
    assert high - clicked < ACT_SECONDS, high - clicked
    assert replaced - clicked < ACT_SECONDS, replaced - clicked
    assert row_of(rows, MILK).starred, rows
    assert not row_of(rows, PLANTS).starred, rows

    moved = time.time()
    thunderbird.move(PLANTS, "Tasks/Done")
    done = wait_until(
        lambda: (found := task(app_database, 2)) and found[1] is not None and time.time(),
        "task 2 done after its move to Tasks/Done",
    )
    # Thunderbird takes the row off the list as it sends the MOVE; once the app has
    # the task done and Thunderbird has heard of the folder since (its next IDLE there),
    # Tasks still shows only the starred task, with no folder switch.
    wait_until(partial(imap_commands.idling_in, "Tasks", done), "Thunderbird idling in Tasks again")
    rows, _ = thunderbird.await_rows(f"only {MILK!r}", listing(MILK))
    print(f"seconds from the move to the task done: {done - moved:.2f}")
    print("Thunderbird's commands since the move:", imap_commands.since(moved))
    assert done - moved < ACT_SECONDS, done - moved
    assert rows.rows[0].starred, rows

    # Unstarring gives the task its normal priority back, in a message of its own again.
    uid = rows.rows[0].uid
    thunderbird.star(MILK, starred=False)
    wait_until(
        lambda: (found := task(app_database, 1)) and found[0] == "normal",
        "task 1's priority normal after its star went out",
    )
    rows, _ = thunderbird.await_rows(
        f"{MILK!r} replaced, not starred",
        lambda rows: listing(MILK)(rows) and rows.rows[0].uid != uid and not rows.rows[0].starred,
    )

    thunderbird.open_folder("Tasks/Done")
    thunderbird.await_rows(
        f"{PLANTS_DONE!r} in Tasks/Done",
        lambda rows: rows.folder == "Tasks/Done" and rows.subjects == [PLANTS_DONE],
    )

    # And back: a move to Tasks reopens the task.
    thunderbird.move(PLANTS_DONE, "Tasks")
    wait_until(
        lambda: (found := task(app_database, 2)) and found[1] is None,
        "task 2 open again after its move back to Tasks",
    )
    thunderbird.open_folder("Tasks")
    thunderbird.await_rows(f"{MILK!r} and {PLANTS!r} again", listing(MILK, PLANTS))


def test_deleting_a_task_in_thunderbird_asks_by_mail_and_a_yes_from_thunderbird_deletes_it(
    thunderbird: Thunderbird, imap_commands: ImapCommands, app_database: Database
) -> None:
    rows, _ = thunderbird.await_rows(f"{MILK!r} and {PLANTS!r}", listing(MILK, PLANTS))
    uid = row_of(rows, PLANTS).uid

    deleted = time.time()
    thunderbird.delete(PLANTS)
    # The app asks first: the task is back in Tasks (a new message), without a folder
    # switch, and the question is in the INBOX.
    rows, back = thunderbird.await_rows(
        f"{PLANTS!r} back",
        lambda rows: listing(MILK, PLANTS)(rows) and row_of(rows, PLANTS).uid != uid,
    )
    print(f"seconds from the deletion to the task's row back: {back - deleted:.2f}")
    print("Thunderbird's commands since the deletion:", imap_commands.since(deleted))
    assert task(app_database, 2) is not None

    answered = time.time()
    thunderbird.reply(f'Confirm: deleted "{PLANTS}" from Tasks', "yes")
    wait_until(lambda: task(app_database, 2) is None, "task 2 deleted after the yes")
    _, gone = thunderbird.await_rows(f"only {MILK!r}", listing(MILK))
    print(f"seconds from the yes sent to the task's row gone: {gone - answered:.2f}")
