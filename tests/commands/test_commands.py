"""The bundled tasks app through the real path: SMTP, worker, handler, replies in the outbox."""

import json
import re
import time
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select

from mailcmd.db.models import InboundMessage, MailMessage, QueueStatus
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE, Cli

TASKS = "tasks@app.localhost"


def test_add_replies_with_the_task_threaded_and_marked(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "add Buy milk --due 2026-12-01 --tag home", "Oat milk, please.")

    reply = exchange.reply
    assert exchange.outcome is not None
    assert exchange.outcome.status == "done"
    assert reply["Subject"] == "Task 1 added: Buy milk"
    assert reply["From"] == TASKS
    assert reply["To"] == ALICE
    assert reply["Reply-To"] == mail.reply_address("tasks", 1)
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["In-Reply-To"] is not None
    assert reply["Message-ID"].endswith("@app.localhost>")
    assert "Due:      2026-12-01" in exchange.reply_text
    assert "Tags:     home" in exchange.reply_text
    assert "Oat milk, please." in exchange.reply_text


def test_prefixes_and_list_tags_are_stripped_from_the_subject(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "[tasks] Re: AW: Fwd: add Call mum")

    assert exchange.reply["Subject"] == "Task 1 added: Call mum"


def test_a_body_of_commands_runs_them_all_and_replies_one_transcript(
    mail: MailTestClient,
) -> None:
    body = "add one\nadd two --priority high\nlist\nthanks\n\n-- \nAlice\nadd three\n"

    exchange = mail.send(TASKS, "", body)

    text = exchange.reply_text
    assert exchange.reply["Subject"] == "Results of 3 commands"
    assert text.index("> add one") < text.index("> add two") < text.index("> list")
    assert "Task 2: two" in text
    assert "three" not in text
    assert "add one\nadd two" not in text  # commands are not anybody's description


def test_a_parse_error_runs_nothing_and_replies_with_usage(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "", "add fine\nadd broken --due someday\n")

    text = exchange.reply_text
    assert "Nothing was done" in text
    assert "due: expected a date like 2026-12-01" in text
    assert "add TITLE [--due DATE] [--tag TAG ...] [--priority low|normal|high]" in text
    assert "No open tasks" in mail.send(TASKS, "list").reply_text


def test_a_refused_command_rolls_back_the_message_but_keeps_its_refusal_and_message_id(
    mail: MailTestClient,
) -> None:
    message = mail.compose(TASKS, "", "add kept nowhere\ndone 99\n", ALICE, {})

    refused = mail.send(TASKS, message=message)
    again = mail.send(TASKS, message=message)

    assert "you have no task 99" in refused.reply_text
    assert refused.outcome is not None
    assert refused.outcome.status == "done"
    assert again.outcome is not None
    assert again.outcome.detail == "ignored: Message-ID seen before"
    assert "No open tasks" in mail.send(TASKS, "list").reply_text


def test_a_missing_argument_names_it(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "add")

    assert "TITLE is missing" in exchange.reply_text


def test_a_misspelt_verb_gets_a_suggestion(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "ad milk")

    assert "tasks@ has no command 'ad'. Did you mean 'add'?" in exchange.reply_text
    assert "list [--all] [--tag TAG]" in exchange.reply_text


def test_a_stranger_from_another_server_is_refused_with_the_reason(
    mail: MailTestClient,
) -> None:
    exchange = mail.send(TASKS, "add Buy milk", login="", sender="someone@example.org")

    assert exchange.reply["To"] == "someone@example.org"
    assert "add needs an account" in exchange.reply_text


def test_help_lists_what_the_sender_may_use(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "help")

    text = exchange.reply_text
    assert "tasks@app.localhost - Your to-do list" in text
    assert "  add TITLE [--due DATE]" in text
    assert "      Add a task; the mail's text becomes its description, its attachments" in text
    assert "  (an answer to tasks+TASK_ID@)" in text


def test_help_for_one_verb_reads_like_a_man_page(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "help add")

    text = exchange.reply_text
    assert exchange.reply["Subject"] == "Help: add"
    assert "NAME\n    add - Add a task; the mail's text becomes its description" in text
    assert (
        "SYNOPSIS\n    To tasks@app.localhost, the subject:\n"
        "    add TITLE [--due DATE] [--tag TAG ...] [--priority low|normal|high]\n"
    ) in text
    options = text.split("OPTIONS\n")[1].split("\n\n")[0].splitlines()
    named = [line for line in options if line[4] != " "]
    assert [line.split()[0] for line in named] == ["TITLE", "--due", "--tag", "--priority"]
    # Every description starts in one column, and its continuation lines under it.
    starts = {re.search(r"\S  +(\S)", line).start(1) for line in named}  # type: ignore[union-attr]
    starts |= {len(line) - len(line.lstrip()) for line in options if line[4] == " "}
    assert len(starts) == 1
    due = " ".join(text.split("    --due DATE")[1].split("    --tag")[0].split())
    assert due.startswith("The day it is due, when its owner is reminded. A date: 2026-12-24,")
    assert "a weekday (friday or fri: the next one, never today)" in due
    assert "(+3d, +2w, -1d)" in due
    assert due.endswith("Default: none.")
    assert "How urgent it is. One of low, normal, high. Default: normal." in " ".join(text.split())
    assert text.endswith("EXAMPLE\n    add Buy milk --due +2w --tag home\n")
    html = exchange.reply.get_body(preferencelist=("html",))
    assert html is not None
    assert "<code>add Buy milk --due +2w --tag home</code>" in html.get_content()
    assert "<code>--due DATE</code></td><td>The day it is due" in html.get_content()


def test_help_for_a_verb_that_takes_a_file_says_to_attach_it(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "help import")

    assert "    <attach CSV>  The tasks to add. A CSV file" in exchange.reply_text
    assert exchange.reply_text.endswith("EXAMPLE\n    import  (with the file attached)\n")


def test_the_help_address_answers_too(mail: MailTestClient) -> None:
    exchange = mail.send("help@app.localhost", "anything")

    assert exchange.reply["From"] == "help@app.localhost"
    assert "tasks@app.localhost" in exchange.reply_text


def test_replying_to_a_task_mail_continues_that_task(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")

    exchange = mail.send(mail.reply_address("tasks", 1, login=ALICE), "Re: done")

    assert exchange.reply["Subject"] == "Task 1 done: Buy milk"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"List-Id": "<news.example.org>"},
    ],
    ids=["auto-submitted", "bulk", "list"],
)
def test_automatic_and_list_mail_is_neither_run_nor_answered(
    mail: MailTestClient, headers: dict[str, str]
) -> None:
    exchange = mail.send(TASKS, "add Spam", headers=headers)

    assert exchange.outcome is not None
    assert exchange.outcome.status == "done"
    assert exchange.replies == []
    assert "No open tasks" in mail.send(TASKS, "list").reply_text


def test_the_same_message_id_is_processed_once(mail: MailTestClient) -> None:
    original = mail.compose(TASKS, "add Once", "", ALICE, None)

    first = mail.send(TASKS, message=original)
    again = mail.send(TASKS, message=original)

    assert len(first.replies) == 1
    assert again.replies == []
    assert mail.send(TASKS, "list").reply_text.count("Once") == 1


@pytest.mark.parametrize("subject", ["=?utf-8?q?add_x=0D=0ABcc:_victim@example.com?="])
def test_a_subject_cannot_inject_headers_into_the_reply(mail: MailTestClient, subject: str) -> None:
    message = mail.compose(TASKS, "placeholder", "", ALICE, None)
    message.replace_header("Subject", "placeholder")
    raw = message.as_bytes().replace(b"Subject: placeholder", f"Subject: {subject}".encode())
    exchange = mail.send(TASKS, message=message_from_bytes(raw, policy=policy.default))

    assert exchange.reply["Bcc"] is None
    assert "victim" not in str(exchange.reply["To"])


def test_an_unknown_mailbox_is_refused_at_rcpt(mail: MailTestClient) -> None:
    exchange = mail.send("nobody@app.localhost", "add x")

    assert exchange.code == 550
    assert exchange.text.startswith("5.1.1")


def test_mail_to_an_account_address_is_delivered_to_its_inbox(mail: MailTestClient) -> None:
    mail.add_account("bob@app.localhost", password="bobs password 1")

    exchange = mail.send("bob@app.localhost", "lunch?", "At noon?", login=ALICE)
    mail.deliver()

    assert exchange.replies == []
    with mail.database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MailMessage)) == 1


def test_forty_commands_from_one_account_within_a_minute_get_forty_replies(
    mail: MailTestClient,
) -> None:
    started = time.monotonic()
    exchanges = [mail.send(TASKS, f"add Task number {n}") for n in range(1, 41)]
    took = time.monotonic() - started

    subjects = [exchange.reply["Subject"] for exchange in exchanges]
    assert subjects == [f"Task {n} added: Task number {n}" for n in range(1, 41)]
    assert mail.settings.worker.reply_rate_limit < 40
    assert took < 60


def test_outbox_cli_shows_the_reply(mail: MailTestClient, cli: Cli) -> None:
    mail.send(TASKS, "add Buy milk")
    cli.env["MAILCMD_DATABASE_URL"] = mail.settings.database_url

    listed = json.loads(cli("outbox", "list", "--json").stdout)
    raw = cli("outbox", "show", str(listed[0]["id"]), "--raw").stdout_bytes

    assert listed[0]["subject"] == "Task 1 added: Buy milk"
    assert listed[0]["rcpt_tos"] == [ALICE]
    assert b"Auto-Submitted: auto-replied\r\n" in raw


def test_processed_messages_are_done_in_the_queue(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "list")

    with mail.database.sessions() as session:
        row = session.get(InboundMessage, exchange.queue_id)
        assert row is not None
        assert row.status is QueueStatus.DONE
        assert row.claim_token is None
