"""Confirm-by-reply, through the real SMTP port: a command that asks first acts once, on
the confirming reply, exactly as first parsed."""

import re
from datetime import date, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import update

from mailcmd import MailTestClient
from mailcmd.db.models import Confirmation
from tests.conftest import ALICE, lab_notes

TASKS = "tasks@app.localhost"
LAB = "lab@app.localhost"
CONFIRMATION_ADDRESS = re.compile(r"tasks\+ok-(\d+)\.[a-z2-7]{14}@app\.localhost")


def task_line(mail: MailTestClient, task_id: int = 1) -> str:
    return mail.send(TASKS, f"show {task_id}").reply_text.splitlines()[0]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_delete_asks_first_and_acts_once_on_the_confirming_reply(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")

    asked = mail.send(TASKS, "delete 1")
    still_there = task_line(mail)
    confirmed = mail.send(asked.reply["Reply-To"], "Re: " + asked.reply["Subject"], "yes")
    again = mail.send(asked.reply["Reply-To"], "Re: " + asked.reply["Subject"], "yes")

    assert asked.reply["Subject"] == "Confirm: Delete task 1? Buy milk"
    assert CONFIRMATION_ADDRESS.fullmatch(asked.reply["Reply-To"])
    assert asked.reply_text.startswith(
        "Delete task 1 (Buy milk), with its comments and attachments?\nIt cannot be undone.\n"
    )
    assert "Nothing is done until you confirm." in asked.reply_text
    assert still_there == "Task 1: Buy milk"
    assert confirmed.reply["Subject"] == "Task 1 deleted: Buy milk"
    assert "you have no task 1" in mail.send(TASKS, "show 1").reply_text
    assert again.reply["Subject"].strip().startswith("Not done: this was already confirmed")
    assert "A confirmation works once." in again.reply_text


def test_any_answer_confirms_and_a_reply_to_the_task_address_keeps_its_tag(
    mail: MailTestClient,
) -> None:
    mail.send(TASKS, "add Buy milk")
    mail.send(TASKS, "add Walk the dog")

    asked = mail.send(mail.reply_address("tasks", 2), "Re: Task 2 added: Walk the dog", "delete")
    asked = mail.send(mail.reply_address("tasks", 2), "delete")
    confirmed = mail.send(asked.reply["Reply-To"], "Re: Confirm", "Sure, go ahead.\n\n> quoted")

    assert confirmed.reply["Subject"] == "Task 2 deleted: Walk the dog"
    assert task_line(mail) == "Task 1: Buy milk"


def test_no_cancels_and_the_address_then_does_nothing(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")
    asked = mail.send(TASKS, "delete 1")

    cancelled = mail.send(asked.reply["Reply-To"], "Re: Confirm", "No.")
    late = mail.send(asked.reply["Reply-To"], "Re: Confirm", "yes")

    assert cancelled.reply["Subject"] == "Cancelled: delete 1"
    assert "nothing was done" in cancelled.reply_text
    assert late.reply["Subject"].strip().startswith("Not done: this was cancelled at ")
    assert task_line(mail) == "Task 1: Buy milk"


def test_share_with_another_account_asks_first(mail: MailTestClient) -> None:
    mail.add_account("bob@app.localhost")
    mail.send(TASKS, "add Plan the trip", login=ALICE)

    asked = mail.send(TASKS, "share 1 bob@app.localhost", login=ALICE)
    before = mail.send(TASKS, "list", login="bob@app.localhost")
    shared = mail.send(asked.reply["Reply-To"], "yes", login=ALICE)

    assert asked.reply["Subject"] == ("Confirm: Share task 1 with bob@app.localhost? Plan the trip")
    assert "No open tasks" in before.reply_text
    assert [reply["To"] for reply in shared.replies] == [ALICE, "bob@app.localhost"]
    assert "Plan the trip" in mail.send(TASKS, "list", login="bob@app.localhost").reply_text


def test_a_mistake_is_answered_at_once_without_asking(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "delete 7")

    assert exchange.reply["Subject"] == "Not done: you have no task 7"
    assert exchange.reply["Reply-To"] is None


def test_a_delete_in_a_body_of_commands_holds_the_whole_body(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")

    asked = mail.send(TASKS, "", "add Walk the dog\ndelete 1\nthanks")
    listed = mail.send(TASKS, "list").reply_text
    confirmed = mail.send(asked.reply["Reply-To"], "Re: Confirm", "yes")

    assert asked.reply["Subject"] == "Confirm: Delete task 1? Buy milk"
    assert asked.reply_text.startswith(
        "These commands run together once you confirm:\n\n"
        "> add Walk the dog\n\n> delete 1\nDelete task 1 (Buy milk), with its comments and"
        " attachments?\nIt cannot be undone.\n\nNothing is done until you confirm."
    )
    assert "Buy milk" in listed
    assert "Walk the dog" not in listed
    assert confirmed.reply["Subject"] == "Results of 2 commands"
    # (the number is whatever the database gives: PostgreSQL's sequences do not roll back)
    assert re.search(r"^Task \d+: Walk the dog$", confirmed.reply_text, re.M)
    assert "Task 1 (Buy milk) is deleted" in confirmed.reply_text


def test_the_confirmation_links_confirm_and_cancel(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")
    asked = mail.send(TASKS, "delete 1")

    links = dict(re.findall(r"^(Confirm|Cancel): (mailto:\S+)$", asked.reply_text, re.M))
    html = asked.reply.get_body(preferencelist=("html",))
    address, _, query = links["Confirm"].removeprefix("mailto:").partition("?")
    confirmed = mail.send(address, query.removeprefix("subject="))

    assert address == asked.reply["Reply-To"]
    assert links["Cancel"] == f"mailto:{address}?subject=no"
    assert html is not None
    assert f'href="mailto:{address}?subject=yes"' in str(html.get_content())
    assert confirmed.reply["Subject"] == "Task 1 deleted: Buy milk"


def test_a_declared_command_asks_in_general_words_and_runs_once_confirmed(
    lab: MailTestClient,
) -> None:
    asked = lab.send(LAB, "wipe everything", "the text it reads")
    notes_before = lab_notes(lab)
    confirmed = lab.send(asked.reply["Reply-To"], "Re: Confirm", "yes")

    assert asked.reply["Subject"] == "Confirm: wipe everything"
    assert asked.reply_text.startswith("> wipe everything\n")
    assert notes_before == []
    assert confirmed.reply["Subject"] == "Echo: wiped everything"
    assert "Body: the text it reads" in confirmed.reply_text
    assert lab_notes(lab) == ["everything"]


def test_a_conditional_question_asks_only_when_the_handler_says_so(lab: MailTestClient) -> None:
    small = lab.send(LAB, "plan today small")
    big = lab.send(LAB, "plan today big")

    assert small.reply["Subject"] == f"Echo: {date.today()} small"
    assert big.reply["Subject"] == f"Confirm: Really big on {date.today()}?"
    assert lab_notes(lab) == [f"{date.today()} small"]


def test_the_confirming_reply_parses_dates_as_of_the_day_they_were_written(
    lab: MailTestClient,
) -> None:
    asked = lab.send(LAB, "plan tomorrow big")
    written_on = date.today() - timedelta(days=5)
    with lab.database.writing() as session:
        session.execute(update(Confirmation).values(asked_on=written_on))
        session.commit()

    confirmed = lab.send(asked.reply["Reply-To"], "Re: Confirm", "yes")

    assert confirmed.reply["Subject"] == f"Echo: {written_on + timedelta(days=1)} big"


def test_a_handler_that_catches_the_question_is_stopped_all_the_same(lab: MailTestClient) -> None:
    asked = lab.send(LAB, "sneak around")

    assert asked.reply["Subject"] == "Confirm: Really around?"
    assert lab_notes(lab) == []


@pytest.mark.parametrize("answer", ["no", "cancel", "Cancel!"])
def test_no_or_cancel_in_the_subject_cancels(lab: MailTestClient, answer: str) -> None:
    asked = lab.send(LAB, "wipe everything")

    cancelled = lab.send(asked.reply["Reply-To"], answer)

    assert cancelled.reply["Subject"] == "Cancelled: wipe everything"
    assert lab_notes(lab) == []
