"""Reply addresses are signed: only the account a reply went to can act through it.

Through the real SMTP ports: a key of someone else, a bare tag or a tampered key
changes nothing and tells nothing about the object it names.
"""

import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from mailcmd import MailTestClient
from mailcmd.addressing.reply_key_file import FILE_NAME, ReplyKeyFile
from tests.conftest import ALICE, Cli

BOB = "bob@app.localhost"
STRANGER = "bo@example.org"
TASKS = "tasks@app.localhost"


@pytest.fixture
def bob(mail: MailTestClient) -> str:
    """A second account, who must not act on alice's tasks."""
    mail.add_account(BOB)
    return BOB


def tampered(address: str) -> str:
    local, _, domain = address.partition("@")
    last = "b" if local[-1] == "a" else "a"
    return f"{local[:-1]}{last}@{domain}"


def task_line(mail: MailTestClient) -> str:
    return mail.send(TASKS, "show 1", login=ALICE).reply_text.splitlines()[0]


def test_a_task_reply_carries_a_signed_reply_address(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "add Buy milk")

    assert re.fullmatch(r"tasks\+1\.[a-z2-7]{10}@app\.localhost", exchange.reply["Reply-To"])
    assert exchange.reply["Reply-To"] == mail.reply_address("tasks", 1)


def test_the_reply_address_acts_for_its_account_in_any_case(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")

    done = mail.send(mail.reply_address("tasks", 1).upper(), "Re: done")

    assert done.reply["Subject"] == "Task 1 done: Buy milk"


@pytest.mark.parametrize("kind", ["alice's key", "bare tag", "tampered key"])
def test_a_reply_address_not_made_for_bob_is_refused_at_rcpt(
    mail: MailTestClient, bob: str, kind: str
) -> None:
    mail.send(TASKS, "add Buy milk", login=ALICE)
    before = task_line(mail)
    address = {
        "alice's key": mail.reply_address("tasks", 1, login=ALICE),
        "bare tag": "tasks+1@app.localhost",
        "tampered key": tampered(mail.reply_address("tasks", 1, login=bob)),
    }[kind]

    exchange = mail.send(address, "done", login=bob)

    assert exchange.code == 550
    assert (
        exchange.text
        == f"5.7.1 {address.lower()} is not a reply address of yours: answer a mail you received"
    )
    assert exchange.replies == []
    assert task_line(mail) == before


def test_the_refusal_is_the_same_for_a_task_that_exists_and_one_that_does_not(
    mail: MailTestClient, bob: str
) -> None:
    mail.send(TASKS, "add Buy milk", login=ALICE)

    existing = mail.send(mail.reply_address("tasks", 1, login=ALICE), "done", login=bob)
    missing = mail.send(mail.reply_address("tasks", 999, login=ALICE), "done", login=bob)

    assert (existing.code, missing.code) == (550, 550)
    assert existing.text.replace("+1.", "+N.").split("@")[1] == missing.text.split("@")[1]


def test_a_stranger_with_an_accounts_reply_address_gets_one_answer_and_changes_nothing(
    mail: MailTestClient,
) -> None:
    mail.send(TASKS, "add Buy milk", login=ALICE)
    before = task_line(mail)

    existing = mail.send(
        mail.reply_address("tasks", 1, login=ALICE), "done", login="", sender=STRANGER
    )
    missing = mail.send(
        mail.reply_address("tasks", 999, login=ALICE), "done", login="", sender=STRANGER
    )
    bare = mail.send("tasks+1@app.localhost", "done", login="", sender=STRANGER)

    assert existing.code == 250
    assert "this reply address does not act for you" in existing.reply_text
    assert existing.reply_text == missing.reply_text == bare.reply_text
    assert "Buy milk" not in existing.reply_text
    assert task_line(mail) == before


def test_after_a_rotation_old_reply_addresses_work_and_new_replies_carry_new_keys(
    mail: MailTestClient,
) -> None:
    first = mail.send(TASKS, "add Buy milk").reply["Reply-To"]

    ReplyKeyFile(mail.settings.state_dir).rotate(timedelta(days=1))
    done = mail.send(first, "Re: done")
    second = mail.send(TASKS, "show 1").reply["Reply-To"]

    assert done.reply["Subject"] == "Task 1 done: Buy milk"
    assert second != first
    assert second.startswith("tasks+1.")


def test_the_secret_never_reaches_a_reply(mail: MailTestClient) -> None:
    exchange = mail.send(TASKS, "add Buy milk")
    secret_file = mail.settings.state_dir / FILE_NAME

    secrets_hex = re.findall(r'"secret": "([0-9a-f]+)"', secret_file.read_text())

    assert secrets_hex
    assert all(secret not in exchange.reply.as_string() for secret in secrets_hex)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_reply_keys_rotate_refuses_an_overlap_past_a_century(cli: Cli) -> None:
    secret_file = Path(cli.env["MAILCMD_STATE_DIR"]) / FILE_NAME
    before = secret_file.read_bytes() if secret_file.exists() else None

    result = cli("reply-keys", "rotate", "--overlap-days", "100000000")

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "--overlap-days" in result.stderr
    assert (secret_file.read_bytes() if secret_file.exists() else None) == before


def test_reply_keys_rotate_says_until_when_the_old_secret_works(cli: Cli) -> None:
    result = cli("reply-keys", "rotate", "--overlap-days", "2")

    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(
        r"new reply-key secret in \S+; the previous one is accepted until "
        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC\n",
        result.stdout,
    )
