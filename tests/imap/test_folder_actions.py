"""Acting by flags and moves: what a client does in Tasks runs the tasks app's commands.

Each action is queued with the client's change and run by the worker like mail; the
folder then shows the task as the app has it, which undoes an action refused.
"""

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_folders_support import (
    BOB,
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


def test_deleting_a_task_asks_to_confirm_by_mail_and_the_answer_deletes_it(
    two_tasks: RunningServer,
) -> None:
    uid = uid_of(two_tasks, "Tasks", MILK)
    client = login(two_tasks)
    try:
        client.select("Tasks")
        client.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
        typ, _ = client.expunge()
        assert typ == "OK"
    finally:
        client.logout()

    question = wait_until(
        lambda: next((m for m in inbox(two_tasks) if "Confirm:" in str(m["Subject"])), None),
        "the question whether to delete",
    )
    assert str(question["Subject"]) == f'Confirm: deleted "{MILK}" from Tasks'
    # Not deleted yet: the folder shows the task again until the answer comes.
    assert wait_until(
        lambda: sorted(subjects(two_tasks, "Tasks")) == [MILK, PLANTS], "task 1 shown again"
    )

    send(two_tasks, ALICE, "Re: delete", to=str(question["Reply-To"]), body="yes")

    assert wait_until(lambda: subjects(two_tasks, "Tasks") == [PLANTS], "task 1 deleted")


def test_a_task_moved_to_trash_asks_to_confirm_too(two_tasks: RunningServer) -> None:
    uid = uid_of(two_tasks, "Tasks", PLANTS)

    typ, _ = act(two_tasks, "Tasks", "MOVE", str(uid), "Trash")

    assert typ == "OK"
    # Trash has the message, as after any deletion; the app asks before it deletes.
    assert subjects(two_tasks, "Trash") == [PLANTS]
    wait_until(
        lambda: f'Confirm: deleted "{PLANTS}" from Tasks' in answers(two_tasks),
        "the question whether to delete",
    )


def test_an_action_the_app_refuses_is_undone_in_the_folder_and_answered(
    two_tasks: RunningServer,
) -> None:
    send(two_tasks, ALICE, "share 1 bob@app.localhost")
    question = wait_until(
        lambda: next((m for m in inbox(two_tasks) if "Share task 1" in str(m["Subject"])), None),
        "the question whether to share",
    )
    send(two_tasks, ALICE, "Re: share", to=str(question["Reply-To"]), body="yes")
    showing(two_tasks, "Tasks", 1, who=BOB)
    uid = uid_of(two_tasks, "Tasks", MILK, who=BOB)

    # Bob may see alice's task, not delete it.
    typ, _ = act(two_tasks, "Tasks", "MOVE", str(uid), "Trash", who=BOB)

    assert typ == "OK"
    refusal = wait_until(
        lambda: next(
            (m for m in folder(two_tasks, "INBOX", BOB) if "Not done" in str(m["Subject"])),
            None,
        ),
        "bob's answer",
    )
    assert str(refusal["Subject"]) == f'Not done: deleted "{MILK}" from Tasks'
    assert (
        "only alice@app.localhost can delete task 1" in refusal.get_body(("plain",)).get_content()
    )
    assert showing(two_tasks, "Tasks", 1, who=BOB) == [MILK]
    assert sorted(subjects(two_tasks, "Tasks")) == [MILK, PLANTS]


def test_each_action_is_queued_with_its_trace(two_tasks: RunningServer, accounts: Cli) -> None:
    uid = uid_of(two_tasks, "Tasks", PLANTS)

    act(two_tasks, "Tasks", "STORE", str(uid), "+FLAGS", "(\\Flagged)")

    def action() -> dict[str, str] | None:
        listed = json.loads(accounts("queue", "list", "--json").stdout)
        return next((item for item in listed if item["folder_action"] is not None), None)

    queued = wait_until(
        lambda: (found := action()) and found["status"] == "done" and found,
        "the action, done, in the queue",
    )
    assert queued["folder_action"] == f'flagged "{PLANTS}" in Tasks'
    assert queued["account"] == ALICE
    assert re.fullmatch(r"tasks\+2\.[A-Za-z0-9]+@app\.localhost", queued["rcpt_tos"][0])
    shown = accounts("queue", "show", queued["trace_id"])
    assert shown.exit_code == 0
    assert f'flagged "{PLANTS}" in Tasks' in shown.stdout
    assert re.search(r"subject\W+edit --priority high", shown.stdout)


def test_flags_the_app_does_not_map_run_nothing(two_tasks: RunningServer, accounts: Cli) -> None:
    uid = uid_of(two_tasks, "Tasks", PLANTS)

    typ, _ = act(two_tasks, "Tasks", "STORE", str(uid), "+FLAGS", "(\\Seen $Later)")

    assert typ == "OK"
    assert flags_by_subject(two_tasks)[PLANTS] == "$Later \\Seen"
    listed = json.loads(accounts("queue", "list", "--json").stdout)
    assert [item for item in listed if item["folder_action"] is not None] == []


def test_moves_into_or_out_of_the_apps_folders_elsewhere_are_refused(
    two_tasks: RunningServer,
) -> None:
    uid = uid_of(two_tasks, "Tasks", MILK)

    typ, data = act(two_tasks, "Tasks", "MOVE", str(uid), "Archive")

    assert (typ, data[0]) == (
        "NO",
        b"[CANNOT] a message of Tasks moves only to Tasks/Done or to Trash;"
        b" copy it to keep it elsewhere",
    )
    typ, data = act(two_tasks, "INBOX", "MOVE", "1:*", "Tasks/Done")
    assert (typ, data[0]) == (
        "NO",
        b"[CANNOT] Tasks/Done shows the tasks app's objects:"
        b" only its own messages move into it, from Tasks",
    )
    # A copy out is the person's own: it stays as it is when the task changes.
    typ, _ = act(two_tasks, "Tasks", "COPY", str(uid), "Archive")
    assert typ == "OK"
    assert subjects(two_tasks, "Archive") == [MILK]
    assert sorted(subjects(two_tasks, "Tasks")) == [MILK, PLANTS]


def at_once(server: RunningServer, name: str, *commands: tuple[str, ...]) -> list[tuple]:
    """Run each UID command from a client of its own, all released together."""
    clients = [login(server) for _ in commands]
    for client in clients:
        client.select(f'"{name}"')
    start = threading.Barrier(len(commands))
    results: list[tuple] = [()] * len(commands)

    def run(index: int) -> None:
        start.wait(timeout=5)
        results[index] = clients[index].uid(*commands[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(commands))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    for client in clients:
        client.logout()
    return results


def test_two_clients_moving_one_task_at_once_give_one_result(two_tasks: RunningServer) -> None:
    uid = str(uid_of(two_tasks, "Tasks", MILK))

    results = at_once(two_tasks, "Tasks", ("MOVE", uid, "Tasks/Done"), ("MOVE", uid, "Archive"))

    # The move to Archive is refused, or finds the message gone; the other lands once.
    assert sorted(typ for typ, _ in results) in (["NO", "OK"], ["OK", "OK"])
    assert wait_until(
        lambda: subjects(two_tasks, "Tasks/Done") == ["Buy milk (done, task 1)"],
        "task 1 done",
    )
    assert subjects(two_tasks, "Tasks") == [PLANTS]
    assert subjects(two_tasks, "Archive") == []


def test_two_clients_moving_one_task_two_ways_give_one_result_and_one_view(
    two_tasks: RunningServer,
) -> None:
    uid = str(uid_of(two_tasks, "Tasks", MILK))

    results = at_once(two_tasks, "Tasks", ("MOVE", uid, "Tasks/Done"), ("MOVE", uid, "Trash"))

    assert [typ for typ, _ in results] == ["OK", "OK"]
    # Whichever came first moved it; the other found it gone. The task is shown
    # once, where its state says.
    trashed = subjects(two_tasks, "Trash")
    assert trashed in ([], [MILK])
    if trashed:
        wait_until(
            lambda: f'Confirm: deleted "{MILK}" from Tasks' in answers(two_tasks),
            "the question whether to delete",
        )
        assert wait_until(
            lambda: sorted(subjects(two_tasks, "Tasks")) == [MILK, PLANTS], "task 1 open"
        )
    else:
        assert wait_until(
            lambda: subjects(two_tasks, "Tasks/Done") == ["Buy milk (done, task 1)"],
            "task 1 done",
        )
    assert (
        len([s for s in subjects(two_tasks, "Tasks") if "task 1)" in s])
        + len(subjects(two_tasks, "Tasks/Done"))
        == 1
    )


def test_two_clients_starring_and_unstarring_at_once_agree_with_the_app(
    two_tasks: RunningServer, accounts: Cli
) -> None:
    uid = str(uid_of(two_tasks, "Tasks", MILK))

    results = at_once(
        two_tasks,
        "Tasks",
        ("STORE", uid, "+FLAGS", "(\\Flagged)"),
        ("STORE", uid, "-FLAGS", "(\\Flagged)"),
    )

    assert [typ for typ, _ in results] == ["OK", "OK"]

    def settled() -> bool:
        listed = json.loads(accounts("queue", "list", "--json").stdout)
        return all(item["status"] == "done" for item in listed)

    wait_until(settled, "every action processed")
    # The star and the priority say the same, whichever action ran last.
    wait_until(
        lambda: (
            ("\\Flagged" in flags_by_subject(two_tasks).get(MILK, ""))
            == ("Priority: high" in task_mail(two_tasks, "Tasks", 1))
        ),
        "the star and the priority agreeing",
    )
