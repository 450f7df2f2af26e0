"""Loops and threads across delivery: mailcmd's own mail never runs again, replies continue."""

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select

from mailcmd.db.models import MailFolder, MailMessage, OutboundMessage
from mailcmd.imap.mailstore import INBOX
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE

TASKS = "tasks@app.localhost"


def inbox(mail: MailTestClient) -> list[EmailMessage]:
    mail.deliver()
    with mail.database.sessions() as session:
        raws = session.scalars(
            select(MailMessage.raw)
            .join(MailFolder)
            .where(MailFolder.name == INBOX)
            .order_by(MailMessage.uid)
        ).all()
    parsed = [message_from_bytes(raw, policy=policy.default) for raw in raws]
    return [message for message in parsed if isinstance(message, EmailMessage)]


def test_a_reply_of_ours_that_comes_back_is_not_run_again(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")
    with mail.database.sessions() as session:
        sent = session.scalars(select(OutboundMessage.raw)).one()
    # A relay or a forwarder that dropped Auto-Submitted sends our reply back to tasks@,
    # with its own From as DMARC-aware lists write it (the MX port refuses ours).
    returned = re.sub(
        rb"\r\nFrom: [^\r]*", b"\r\nFrom: tasks via list <list@example.net>", b"\r\n" + sent
    )[2:]
    returned = returned.replace(b"Auto-Submitted: auto-replied\r\n", b"").replace(
        b"Subject: Task 1 added: Buy milk", b"Subject: add Buy milk"
    )

    exchange = mail.send_raw(TASKS, returned, sender="forwarder@example.net")

    assert exchange.outcome is not None
    assert exchange.outcome.detail == "ignored: mailcmd's own mail came back"
    assert exchange.replies == []
    assert mail.send(TASKS, "list").reply_text.count("Buy milk") == 1


def test_a_local_account_answering_a_reply_in_its_inbox_continues_the_thread(
    mail: MailTestClient,
) -> None:
    mail.send(TASKS, "add Buy milk")
    [first] = inbox(mail)
    answer = EmailMessage()
    answer["From"] = ALICE
    answer["To"] = first["Reply-To"]
    answer["Subject"] = f"Re: {first['Subject']}"
    answer["Message-ID"] = make_msgid(domain="client.test")
    answer["In-Reply-To"] = first["Message-ID"]
    answer["References"] = first["Message-ID"]
    answer.set_content("Oat milk, please.\n\nOn Tuesday tasks@ wrote:\n> Task 1: Buy milk\n")

    exchange = mail.send(str(first["Reply-To"]), message=answer)
    delivered = inbox(mail)

    assert first["Reply-To"] == mail.reply_address("tasks", 1)
    assert exchange.reply["Subject"] == "Task 1 commented: Buy milk"
    assert "    Oat milk, please." in exchange.reply_text
    assert "> Task 1" not in exchange.reply_text
    assert len(delivered) == 2
    assert delivered[1]["In-Reply-To"] == answer["Message-ID"]
    assert delivered[1]["References"].split() == [first["Message-ID"], answer["Message-ID"]]
