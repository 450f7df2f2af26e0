"""The bundled tasks@ app, verb by verb, through the real SMTP path and the worker."""

from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailcmd.app.resources import bundled_path
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE, PASSWORD

TASKS = "tasks@app.localhost"
BOB = "bob@app.localhost"


@pytest.fixture
def bob(mail: MailTestClient) -> str:
    mail.add_account(BOB)
    return BOB


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_add_keeps_due_date_tags_priority_description_and_attachments(
    mail: MailTestClient,
) -> None:
    message = mail.compose(
        TASKS, "add Buy milk --due +3d --tag home --priority high", "", ALICE, None
    )
    message.set_content("Oat milk, please.\n")
    message.add_attachment(b"1 litre", maintype="text", subtype="plain", filename="list.txt")

    exchange = mail.send(TASKS, message=message, login=ALICE)

    text = exchange.reply_text
    assert exchange.reply["Subject"] == "Task 1 added: Buy milk"
    assert exchange.reply["Reply-To"] == mail.reply_address("tasks", 1, login=ALICE)
    assert f"Due:      {date.today() + timedelta(days=3)}" in text
    assert "Priority: high" in text
    assert "Tags:     home" in text
    assert "Oat milk, please." in text
    assert "list.txt (text/plain, 7 bytes)" in text


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("add", "TITLE is missing"),
        ("add Milk --due someday", "due: expected a date"),
        ("add Milk --priority urgent", "priority: expected one of low, normal, high"),
        ("show 99", "you have no task 99"),
        ("show one", "TASK_ID: expected a whole number"),
        ("done 99", "you have no task 99"),
        ("edit 1", "nothing to change"),
        ("digest maybe", "STATE: expected one of on, off"),
    ],
)
def test_bad_input_gets_a_refusal_that_says_what_is_wrong(
    mail: MailTestClient, subject: str, expected: str
) -> None:
    mail.send(TASKS, "add Buy milk")

    exchange = mail.send(TASKS, subject)

    assert exchange.reply["Subject"].strip().startswith("Not done")
    assert expected in " ".join(exchange.reply_text.split())


def test_list_filters_and_sorts(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Later --due 2030-01-01 --priority low")
    mail.send(TASKS, "add Soon --due 2029-01-01 --priority high --tag work")
    mail.send(TASKS, "add Someday")
    mail.send(TASKS, "done 3")

    open_tasks = mail.send(TASKS, "list").reply_text
    everything = mail.send(TASKS, "list --all").reply_text
    tagged = mail.send(TASKS, "list --tag work").reply_text
    before = mail.send(TASKS, "list --due-before 2029-06-01").reply_text
    none_tagged = mail.send(TASKS, "list --tag garden --due-before 2029-06-01").reply_text
    by_due = mail.send(TASKS, "list --sort due").reply_text
    by_priority = mail.send(TASKS, "list --sort priority").reply
    html = by_priority.get_body(preferencelist=("html",))

    assert "Someday" not in open_tasks
    assert "[x]" in everything
    assert "Someday" in everything
    assert "Soon" in tagged
    assert "Later" not in tagged
    assert "Soon" in before
    assert "Later" not in before
    assert (
        'No open tasks tagged garden and due before 2029-06-01. The subject "list" shows them all.'
    ) in none_tagged
    assert by_due.index("Soon") < by_due.index("Later")
    assert text_of(by_priority).index("Soon") < text_of(by_priority).index("Later")
    assert html is not None
    assert "<table" in html.get_content()
    assert "<td>Soon</td>" in html.get_content()


def test_done_takes_several_ids_and_reopen_opens_again(mail: MailTestClient) -> None:
    mail.send(TASKS, "add One")
    mail.send(TASKS, "add Two")

    finished = mail.send(TASKS, "done 1 2")
    reopened = mail.send(TASKS, "reopen 2")

    assert "Task 1: One" in finished.reply_text
    assert "Task 2: Two" in finished.reply_text
    assert finished.reply_text.count("Status:   done") == 2
    assert reopened.reply["Subject"] == "Task 2 reopened: Two"
    assert "Status:   open" in reopened.reply_text


def test_edit_changes_what_it_is_given(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk --tag home")

    exchange = mail.send(TASKS, "edit 1 --title 'Buy oat milk' --due tomorrow --tag shop")

    assert exchange.reply["Subject"] == "Task 1 changed: Buy oat milk"
    assert f"Due:      {date.today() + timedelta(days=1)}" in exchange.reply_text
    assert "Tags:     shop" in exchange.reply_text


def test_verbs_in_the_subject_of_an_answer_need_no_id(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")

    edited = mail.send(mail.reply_address("tasks", 1, login=ALICE), "Re: edit --priority high")
    finished = mail.send(mail.reply_address("tasks", 1, login=ALICE), "Re: done")
    reopened = mail.send(mail.reply_address("tasks", 1, login=ALICE), "reopen")

    assert "Priority: high" in edited.reply_text
    assert finished.reply["Subject"] == "Task 1 done: Buy milk"
    assert reopened.reply["Subject"] == "Task 1 reopened: Buy milk"


def html_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def test_a_task_mail_offers_done_while_open_and_reopen_once_done(mail: MailTestClient) -> None:
    added = mail.send(TASKS, "add Buy milk").reply
    finished = mail.send(mail.reply_address("tasks", 1, login=ALICE), "done").reply

    for offered, withheld, reply in (("done", "reopen", added), ("reopen", "done", finished)):
        text = " ".join(text_of(reply).split())
        html = " ".join(html_of(reply).split())
        assert f"first line of your answer: {offered}, edit --due friday" in text
        assert f"subject={offered}" in text
        assert f"subject={withheld}" not in text
        assert f"{withheld}," not in text
        assert f"<code>{offered}</code>" in html
        assert f"subject={withheld}" not in html
        assert f"<code>{withheld}</code>" not in html


def test_answering_a_task_mail_adds_a_comment_with_attachments(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")
    answer = mail.compose(
        mail.reply_address("tasks", 1, login=ALICE),
        "Re: Task 1 added: Buy milk",
        "",
        ALICE,
        None,
    )
    answer.set_content("Two bottles.\n\nOn Tuesday, tasks@ wrote:\n> Task 1: Buy milk\n")
    answer.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="shelf.png")

    exchange = mail.send(mail.reply_address("tasks", 1, login=ALICE), message=answer)
    empty = mail.send(
        mail.reply_address("tasks", 1, login=ALICE), "Re: Task 1 added: Buy milk", "> quoted only"
    )

    assert exchange.reply["Subject"] == "Task 1 commented: Buy milk"
    assert "    Two bottles." in exchange.reply_text
    assert "shelf.png (image/png, 4 bytes)" in exchange.reply_text
    assert "On Tuesday" not in exchange.reply_text
    assert "nothing to add" in empty.reply_text


def answer(mail: MailTestClient, reply: EmailMessage, text: str) -> EmailMessage:
    """What a mail client sends on Reply: `text` above the quoted reply, to its Reply-To."""
    quoted = "".join(f"> {line}\n" for line in text_of(reply).splitlines())
    return mail.compose(
        str(reply["Reply-To"]),
        f"Re: {reply['Subject']}",
        f"{text}\n\nOn Tuesday, tasks@app.localhost wrote:\n{quoted}",
        ALICE,
        {"In-Reply-To": str(reply["Message-ID"]), "References": str(reply["Message-ID"])},
    )


def test_done_written_above_the_quote_of_an_answer_marks_the_task_done(
    mail: MailTestClient,
) -> None:
    added = mail.send(TASKS, "add Buy milk").reply

    exchange = mail.send(str(added["Reply-To"]), message=answer(mail, added, "done"))

    assert exchange.reply["Subject"] == "Task 1 done: Buy milk"
    assert "Status:   done" in exchange.reply_text
    assert "Comments:" not in exchange.reply_text


def test_prose_above_the_quote_of_an_answer_is_a_comment_even_when_it_starts_with_a_verb(
    mail: MailTestClient,
) -> None:
    added = mail.send(TASKS, "add Buy milk").reply

    exchange = mail.send(
        str(added["Reply-To"]), message=answer(mail, added, "Done with this one, thanks")
    )

    assert exchange.reply["Subject"] == "Task 1 commented: Buy milk"
    assert "Status:   open" in exchange.reply_text
    assert "    Done with this one, thanks" in exchange.reply_text


def test_several_command_lines_above_the_quote_make_a_transcript(mail: MailTestClient) -> None:
    added = mail.send(TASKS, "add Buy milk").reply

    exchange = mail.send(
        str(added["Reply-To"]),
        message=answer(mail, added, "edit --priority high\ndone\nthanks\nAlice"),
    )
    shown = mail.send(TASKS, "show 1")

    assert exchange.reply["Subject"] == "Results of 2 commands"
    assert "> edit --priority high" in exchange.reply_text
    assert "> done" in exchange.reply_text
    # Each task in a transcript offers its links; "reply to this mail" would be untrue
    # of all but one of them (the mail has one Reply-To).
    assert "For task 1, use a link:" in exchange.reply_text
    assert "Reply to this mail" not in exchange.reply_text
    assert "Reply to this mail to comment on task 1" in shown.reply_text
    assert "Priority: high" in shown.reply_text
    assert "Status:   done" in shown.reply_text


def test_a_command_line_then_prose_above_the_quote_changes_nothing_and_says_which_line(
    mail: MailTestClient,
) -> None:
    added = mail.send(TASKS, "add Buy milk").reply

    exchange = mail.send(
        str(added["Reply-To"]), message=answer(mail, added, "done\nBought it at the corner.")
    )
    shown = mail.send(TASKS, "show 1")

    assert exchange.reply["Subject"].strip().startswith("Not done: line 'Bought it at the corner.'")
    assert "tasks@ has no command 'bought'" in " ".join(exchange.reply_text.split())
    assert "Status:   open" in shown.reply_text
    assert "Comments:" not in shown.reply_text


def test_an_unknown_subject_to_tasks_suggests_a_verb(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "lsit")

    assert "Did you mean 'list'?" in exchange.reply_text


def test_someone_elses_task_is_invisible(mail: MailTestClient, bob: str) -> None:
    mail.send(TASKS, "add Alice's secret", login=ALICE)

    shown = mail.send(TASKS, "show 1", login=bob)
    listed = mail.send(TASKS, "list --all", login=bob)
    finished = mail.send(mail.reply_address("tasks", 1, login=bob), "done", login=bob)

    assert "you have no task 1" in shown.reply_text
    assert "secret" not in listed.reply_text
    assert "you have no task 1" in finished.reply_text


def test_a_shared_task_is_seen_by_both_and_each_change_tells_the_other(
    mail: MailTestClient, bob: str
) -> None:
    mail.send(TASKS, "add Plan the trip", login=ALICE)

    asked = mail.send(TASKS, "share 1 bob@app.localhost", login=ALICE)
    shared = mail.send(asked.reply["Reply-To"], "yes", login=ALICE)
    listed = mail.send(TASKS, "list", login=bob)
    finished = mail.send(mail.reply_address("tasks", 1, login=bob), "done", login=bob)
    deleted_by_bob = mail.send(TASKS, "delete 1", login=bob)
    asked_to_delete = mail.send(TASKS, "delete 1", login=ALICE)
    deleted = mail.send(asked_to_delete.reply["Reply-To"], "yes", login=ALICE)

    [to_alice, to_bob] = shared.replies
    assert to_alice["To"] == ALICE
    assert "Shared:   bob@app.localhost" in text_of(to_alice)
    assert to_bob["To"] == bob
    # (a subject this long is folded onto a line of its own, hence the strip)
    assert to_bob["Subject"].strip() == f"Task 1 shared with you by {ALICE}: Plan the trip"
    assert to_bob["Reply-To"] == mail.reply_address("tasks", 1, login=bob)
    assert "Plan the trip" in listed.reply_text
    assert [mail["To"] for mail in finished.replies] == [bob, ALICE]
    assert finished.replies[1]["Subject"] == f"Task 1 done by {bob}: Plan the trip"
    assert f"only {ALICE} can delete task 1" in deleted_by_bob.reply_text
    assert deleted.reply["Subject"] == "Task 1 deleted: Plan the trip"
    assert "No tasks" in mail.send(TASKS, "list --all", login=bob).reply_text


@pytest.mark.parametrize(
    ("login", "expected"),
    [("nobody", "there is no account 'nobody'"), (ALICE, f"task 1 is already {ALICE}'s")],
)
def test_share_refuses_unknown_accounts_and_the_owner(
    mail: MailTestClient, login: str, expected: str
) -> None:
    mail.send(TASKS, "add Plan the trip")

    exchange = mail.send(TASKS, f"share 1 {login}")

    assert expected in exchange.reply_text


def test_digest_is_turned_on_and_off(mail: MailTestClient) -> None:
    on = mail.send(TASKS, "digest on")
    off = mail.send(TASKS, "digest off")

    assert on.reply["Subject"] == "Daily summary on"
    assert off.reply["Subject"] == "Daily summary off"
    assert "every morning at 07:00 (UTC)" in " ".join(on.reply_text.split())


def test_digest_on_says_when_it_comes_in_the_time_zone_of_the_settings(
    database_url: str, tmp_path: Path
) -> None:
    with MailTestClient(
        bundled_path("commands"),
        tmp_path / "berlin",
        database_url=database_url,
        settings={"timezone": "Europe/Berlin"},
    ) as berlin:
        berlin.add_account(ALICE, password=PASSWORD)

        on = berlin.send(TASKS, "digest on")

    assert "every morning at 07:00 (Europe/Berlin)" in " ".join(on.reply_text.split())
