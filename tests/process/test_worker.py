"""The worker with the framework's test app: failures, retries, time limits, policies, mail."""

import json

import pytest
from sqlalchemy import select

from mailcmd.db.models import InboundMessage, MailMessage, QueueStatus
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE, Cli, lab_notes

LAB = "lab@app.localhost"


def inbound(client: MailTestClient, queue_id: int | None) -> InboundMessage:
    with client.database.sessions() as session:
        row = session.get(InboundMessage, queue_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_crashing_handler_is_retried_then_apologised_for(lab: MailTestClient) -> None:
    exchange = lab.send(LAB, "crash")

    row = inbound(lab, exchange.queue_id)
    assert exchange.outcome is not None
    assert exchange.outcome.status == "failed"
    assert row.status is QueueStatus.FAILED
    assert row.attempts == 2
    assert "RuntimeError: internal detail" in (row.last_error or "")
    reference = (row.last_error or "").split("\n")[0].removeprefix("ref=")
    assert exchange.reply["Subject"] == "Sorry, your message could not be processed"
    assert reference in exchange.reply_text
    assert "internal detail" not in exchange.reply_text
    assert "Traceback" not in exchange.reply_text
    assert lab_notes(lab) == []


def test_queue_show_gives_the_operator_the_traceback_and_retry_runs_it_again(
    lab: MailTestClient, cli: Cli
) -> None:
    exchange = lab.send(LAB, "crash")
    cli.env["MAILCMD_DATABASE_URL"] = lab.settings.database_url

    shown = json.loads(cli("queue", "show", str(exchange.queue_id), "--json").stdout)
    retried = cli("queue", "retry", str(exchange.queue_id))

    assert shown["status"] == "failed"
    assert "Traceback (most recent call last)" in shown["last_error"]
    assert retried.exit_code == 0
    assert exchange.queue_id is not None
    again = lab.wait(exchange.queue_id)
    assert again.status == "failed"
    assert len(lab.replies_to(exchange.queue_id)) == 2  # a second apology


def test_a_command_error_is_the_senders_mistake_no_retry_no_changes(
    lab: MailTestClient,
) -> None:
    exchange = lab.send(LAB, "refuse this")

    row = inbound(lab, exchange.queue_id)
    assert row.status is QueueStatus.DONE
    assert row.attempts == 1
    assert "cannot do 'this'" in exchange.reply_text
    assert lab_notes(lab) == []


def test_changes_and_reply_commit_together(lab: MailTestClient) -> None:
    exchange = lab.send(LAB, "note kept")

    assert lab_notes(lab) == ["kept"]
    assert exchange.reply["Subject"] == "Echo: kept"


@pytest.mark.parametrize("lab_settings", [{"worker": {"max_attempts": 1, "handler_timeout": 0.3}}])
def test_a_handler_running_too_long_counts_as_a_failure(lab: MailTestClient) -> None:
    exchange = lab.send(LAB, "slow 0.5")

    row = inbound(lab, exchange.queue_id)
    assert row.status is QueueStatus.FAILED
    assert "ran longer than 0.3 s" in (row.last_error or "")
    assert exchange.reply["Subject"] == "Sorry, your message could not be processed"


def test_async_handlers_work(lab: MailTestClient) -> None:
    exchange = lab.send(LAB, "wait for it")

    assert exchange.reply["Subject"] == "Echo: for it"


def test_roles_are_required_and_granted(lab: MailTestClient) -> None:
    lab.add_account("root@app.localhost", password="root password 1", roles=["admin"])

    refused = lab.send(LAB, "admin", login=ALICE)
    allowed = lab.send(LAB, "admin", login="root@app.localhost")

    assert "admin needs the role admin" in refused.reply_text
    assert allowed.reply["Subject"] == "Echo: admin"


def test_help_hides_what_the_sender_may_not_use(lab: MailTestClient) -> None:
    text = lab.send(LAB, "help").reply_text

    assert "echo [--words WORDS]" in text
    assert "admin" not in text


def test_a_public_mailbox_answers_strangers(lab: MailTestClient) -> None:
    exchange = lab.send("public@app.localhost", "ping", login="", sender="x@example.org")

    assert exchange.reply["Subject"] == "Echo: pong"
    assert exchange.reply["To"] == "x@example.org"


def test_plus_tag_reaches_the_tagged_parameter_and_the_default_command(
    lab: MailTestClient,
) -> None:
    item = lab.send(lab.reply_address("lab", 7), "item")
    comment = lab.send(lab.reply_address("lab", 7), "Re: Echo: item 7", "Looks good.\n\n> old\n")

    assert item.reply["Subject"] == "Echo: item 7"
    assert item.reply["Reply-To"] == lab.reply_address("lab", 7)
    assert comment.reply["Subject"] == "Echo: comment on 7: Looks good."


def test_a_bad_plus_tag_is_a_parse_error(lab: MailTestClient) -> None:
    exchange = lab.send(lab.reply_address("lab", "seven"), "item")

    assert "expected a whole number like 42, got 'seven'" in exchange.reply_text


def test_notifications_reach_another_accounts_inbox(lab: MailTestClient) -> None:
    lab.add_account("bob@app.localhost", password="bobs password 1")

    exchange = lab.send(LAB, "tell bob@app.localhost hello", login=ALICE)
    lab.deliver()

    assert [mail["To"] for mail in exchange.replies] == [ALICE, "bob@app.localhost"]
    assert exchange.replies[1]["Subject"] == "Echo: hello"
    with lab.database.sessions() as session:
        delivered = session.scalars(select(MailMessage)).all()
    assert {message.uid for message in delivered} == {1}
    assert len(delivered) == 2  # alice's reply and bob's notification, each in an INBOX


def test_options_and_repeated_words(lab: MailTestClient) -> None:
    exchange = lab.send(LAB, 'echo --words "hi there" --times 2')

    assert exchange.reply_text.count("hi there") == 2
    assert exchange.reply.get_body(preferencelist=("html",)) is not None
