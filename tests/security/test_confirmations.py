"""A confirmation address is a one-time button for one account: any other use of it (another
account, another mailbox, a changed or malformed key, a replay, a late reply) runs nothing
and tells nothing, through the real SMTP ports."""

import re
from datetime import date, timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import update

from mailcmd import MailTestClient
from mailcmd.db.models import Confirmation
from mailcmd.db.types import utc_now
from mailcmd.smtp.replies import SmtpReplies
from tests.conftest import ALICE

BOB = "bob@app.localhost"
STRANGER = "bo@example.org"
TASKS = "tasks@app.localhost"


@pytest.fixture
def asked(mail: MailTestClient) -> str:
    """Alice has task 1 and was asked to confirm its deletion: the confirmation address."""
    mail.add_account(BOB)
    mail.send(TASKS, "add Buy milk", login=ALICE)
    address = mail.send(TASKS, "delete 1", login=ALICE).reply["Reply-To"]
    assert address.startswith("tasks+ok-1.")
    return str(address)


def task_line(mail: MailTestClient) -> str:
    return mail.send(TASKS, "show 1", login=ALICE).reply_text.splitlines()[0]


def with_key(address: str, key: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local.rpartition('.')[0]}.{key}@{domain}"


@pytest.mark.parametrize(
    "key",
    [
        "abc",  # too short
        "a" * 13,  # neither 10 nor 14 characters
        "a" * 15,
        "acpfwgidzprl41",  # 1 is not base32
        "acpfwgidzprl4-",
    ],
)
def test_a_malformed_confirmation_key_is_refused_at_rcpt(
    mail: MailTestClient, asked: str, key: str
) -> None:
    address = with_key(asked, key)

    exchange = mail.send(address, "yes", login=ALICE)

    assert (exchange.code, exchange.text) == (
        550,
        f"5.7.1 {address.lower()} is not a reply address of yours: answer a mail you received",
    )
    assert task_line(mail) == "Task 1: Buy milk"


def test_a_changed_key_is_refused_like_a_malformed_one(mail: MailTestClient, asked: str) -> None:
    key = asked.partition("@")[0].rpartition(".")[2]
    changed = with_key(asked, key[:-1] + ("b" if key[-1] == "a" else "a"))

    exchange = mail.send(changed, "yes", login=ALICE)

    assert exchange.code == SmtpReplies.REPLY_KEY_REFUSED.code
    assert task_line(mail) == "Task 1: Buy milk"


def test_another_account_cannot_confirm(mail: MailTestClient, asked: str) -> None:
    exchange = mail.send(asked, "yes", login=BOB)

    assert exchange.code == 550
    assert "is not a reply address of yours" in exchange.text
    assert exchange.replies == []
    assert task_line(mail) == "Task 1: Buy milk"


def test_a_stranger_with_the_address_gets_the_one_refusal_and_learns_nothing(
    mail: MailTestClient, asked: str
) -> None:
    used = mail.send(asked, "yes", login="", sender=STRANGER)
    made_up = mail.send(with_key(asked, "a" * 14), "yes", login="", sender=STRANGER)
    bare = mail.send("tasks+ok-1@app.localhost", "yes", login="", sender=STRANGER)

    assert used.code == 250
    assert used.reply_text == made_up.reply_text == bare.reply_text
    assert "this reply address does not act for you" in used.reply_text
    assert "Buy milk" not in used.reply_text
    assert task_line(mail) == "Task 1: Buy milk"


def test_the_key_of_one_mailbox_does_not_confirm_on_another(
    mail: MailTestClient, asked: str
) -> None:
    elsewhere = asked.replace("tasks+", "account+", 1)

    exchange = mail.send(elsewhere, "yes", login=ALICE)

    assert exchange.code == 550
    assert task_line(mail) == "Task 1: Buy milk"


def test_a_key_that_names_another_accounts_confirmation_runs_nothing(
    mail: MailTestClient,
) -> None:
    # As when the table was emptied and ids start again: a good key of alice's that
    # names a confirmation bob asked for.
    mail.add_account(BOB)
    mail.send(TASKS, "add Bob's own", login=BOB)
    mail.send(TASKS, "delete 1", login=BOB)

    exchange = mail.send(mail.reply_address("tasks", "ok-1", login=ALICE), "yes", login=ALICE)

    assert "this reply address does not act for you" in exchange.reply_text
    assert "Bob's own" not in exchange.reply_text
    assert mail.send(TASKS, "show 1", login=BOB).reply_text.startswith("Task 1: Bob's own")


def test_a_replayed_confirmation_runs_once(mail: MailTestClient, asked: str) -> None:
    mail.send(TASKS, "add Walk the dog", login=ALICE)

    first = mail.send(asked, "yes", login=ALICE)
    replayed = mail.send(asked, "yes", login=ALICE, headers={"X-Replay": "1"})
    listed = mail.send(TASKS, "list", login=ALICE).reply_text

    assert first.reply["Subject"] == "Task 1 deleted: Buy milk"
    assert "this was already confirmed, and done, at " in replayed.reply_text
    assert "Walk the dog" in listed


def test_a_confirmation_after_its_time_says_it_expired_and_runs_nothing(
    mail: MailTestClient, asked: str
) -> None:
    with mail.database.writing() as session:
        session.execute(update(Confirmation).values(expires_at=utc_now() - timedelta(seconds=1)))
        session.commit()

    late = mail.send(asked, "yes", login=ALICE)

    assert "Nothing was done: this confirmation expired at " in late.reply_text
    assert "Write to tasks@ again to be asked anew." in late.reply_text
    assert task_line(mail) == "Task 1: Buy milk"


def test_a_confirmation_key_past_its_day_is_refused_at_rcpt_as_expired(
    mail: MailTestClient, asked: str
) -> None:
    yesterday = date.today() - timedelta(days=1)
    expired = mail.reply_address("tasks", "ok-1", login=ALICE, expires=yesterday)

    exchange = mail.send(expired, "yes", login=ALICE)

    assert (exchange.code, exchange.text) == (
        550,
        f"5.7.1 {expired.lower()} has expired: nothing was done; write to the mailbox again",
    )
    assert task_line(mail) == "Task 1: Buy milk"


def test_a_confirmation_key_keeps_working_a_day_past_the_confirmation(
    mail: MailTestClient, asked: str
) -> None:
    # The key's day must never refuse what the confirmation still accepts, in any zone.
    key = asked.partition("@")[0].rpartition(".")[2]
    with mail.database.sessions() as session:
        confirmation = session.get(Confirmation, 1)
        assert confirmation is not None
        last_day = (confirmation.expires_at + timedelta(days=1)).date()

    assert asked == mail.reply_address("tasks", "ok-1", login=ALICE, expires=last_day)
    assert len(key) == 14


def test_an_action_link_acts_for_its_account_only(mail: MailTestClient) -> None:
    mail.add_account(BOB)
    added = mail.send(TASKS, "add Buy milk", login=ALICE)
    link = re.search(r"^Done: mailto:(\S+)$", added.reply_text, re.M)
    assert link is not None
    address, _, query = link.group(1).partition("?")

    by_bob = mail.send(address, unquote(query.removeprefix("subject=")), login=BOB)
    by_alice = mail.send(address, unquote(query.removeprefix("subject=")), login=ALICE)

    assert by_bob.code == 550
    assert by_alice.reply["Subject"] == "Task 1 done: Buy milk"
