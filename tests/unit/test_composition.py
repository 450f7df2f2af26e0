"""Composing mail without a server: headers a mail client threads and filters by."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from mailcmd.addressing.reply_keys import ReplyKeys, address_holder
from mailcmd.app.actions import ActionLinks
from mailcmd.app.context import Context, Notification, Reply, Sender
from mailcmd.app.rendering import Rendered, Renderer
from mailcmd.db.models import Base
from mailcmd.message import Attachment, MessageView, parse_message
from mailcmd.operations.traces import traced
from mailcmd.outbound.composing import (
    MAX_REFERENCES,
    ComposedMail,
    compose,
    header_text,
    reply_subject,
)
from mailcmd.outbound.mails import notification_mail, render_reply

DOMAIN = "app.example"
KEYS = ReplyKeys([b"a secret for tests only"])
LINKS = ActionLinks(
    keys=KEYS, domain=DOMAIN, mailbox="tasks", tag=None, holder=address_holder("a@example.org")
)
TEXT = Rendered(subject=None, text="Task 1 added: Buy milk\n", html=None)


def answered(message_id: str | None, references: list[str] | None = None) -> MessageView:
    mail = EmailMessage()
    mail["From"] = "alice@example.org"
    mail["To"] = f"tasks@{DOMAIN}"
    mail["Subject"] = "add Buy milk"
    if message_id is not None:
        mail["Message-ID"] = message_id
    if references:
        mail["References"] = " ".join(references)
    mail.set_content("add Buy milk\n")
    return parse_message(mail.as_bytes())


def sent(mail: ComposedMail) -> EmailMessage:
    """The mail as a recipient reads it: its bytes parsed back."""
    parsed = message_from_bytes(mail.raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def reply(
    *,
    rendered: Rendered = TEXT,
    subject: str = "Task 1 added: Buy milk",
    reply_to: str | None = None,
    answering: MessageView | None = None,
    auto_submitted: str = "auto-replied",
    attachments: tuple[Attachment, ...] = (),
) -> EmailMessage:
    """A reply from tasks@ to alice, composed and read back as she would receive it."""
    return sent(
        compose(
            rendered,
            from_address=f"tasks@{DOMAIN}",
            to_address="alice@example.org",
            domain=DOMAIN,
            subject=subject,
            reply_to=reply_to,
            answering=answering,
            auto_submitted=auto_submitted,
            attachments=attachments,
        )
    )


def test_a_reply_has_its_addresses_subject_date_and_a_message_id_of_our_domain() -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    mail = reply()

    assert mail["From"] == f"tasks@{DOMAIN}"
    assert mail["To"] == "alice@example.org"
    assert mail["Subject"] == "Task 1 added: Buy milk"
    assert mail["Message-ID"].startswith("<")
    assert mail["Message-ID"].endswith(f"@{DOMAIN}>")
    date = parsedate_to_datetime(mail["Date"])
    assert before <= date <= datetime.now(UTC) + timedelta(seconds=1)


def test_each_mail_gets_a_message_id_of_its_own() -> None:
    assert reply()["Message-ID"] != reply()["Message-ID"]


def test_a_mail_names_the_trace_it_is_made_in_or_one_of_its_own() -> None:
    with traced("0123456789abcdef"):
        inside = [reply(), reply()]
    outside = [reply(), reply()]

    assert [mail["X-Mailcmd-Trace"] for mail in inside] == ["0123456789abcdef"] * 2
    assert outside[0]["X-Mailcmd-Trace"] != outside[1]["X-Mailcmd-Trace"]
    assert all(re.fullmatch("[0-9a-f]{16}", mail["X-Mailcmd-Trace"]) for mail in outside)


def test_a_reply_threads_under_the_message_it_answers() -> None:
    mail = reply(answering=answered("<m2@example.org>", ["<m0@example.org>", "<m1@example.org>"]))

    assert mail["In-Reply-To"] == "<m2@example.org>"
    assert mail["References"].split() == [
        "<m0@example.org>",
        "<m1@example.org>",
        "<m2@example.org>",
    ]


def test_references_keep_the_newest_ones_and_end_with_the_parent() -> None:
    chain = [f"<m{number}@example.org>" for number in range(50)]

    mail = reply(answering=answered("<last@example.org>", chain))

    references = mail["References"].split()
    assert len(references) == MAX_REFERENCES
    assert references[0] == f"<m{50 - MAX_REFERENCES + 1}@example.org>"
    assert references[-2:] == ["<m49@example.org>", "<last@example.org>"]


def test_answering_a_message_without_a_message_id_threads_nothing() -> None:
    mail = reply(answering=answered(None))

    assert mail["In-Reply-To"] is None
    assert mail["References"] is None


def test_a_reply_is_marked_auto_replied_by_default() -> None:
    assert reply()["Auto-Submitted"] == "auto-replied"


def test_mail_that_answers_nothing_can_be_marked_auto_generated() -> None:
    assert reply(auto_submitted="auto-generated")["Auto-Submitted"] == "auto-generated"


def test_reply_to_is_the_plus_address_given_and_absent_otherwise() -> None:
    assert reply(reply_to=f"tasks+42@{DOMAIN}")["Reply-To"] == f"tasks+42@{DOMAIN}"
    assert reply()["Reply-To"] is None


def test_a_subject_cannot_smuggle_a_header_in() -> None:
    mail = reply(subject="Task added\r\nBcc: everyone@example.net")

    assert mail["Bcc"] is None
    assert mail["Subject"] == "Task added Bcc: everyone@example.net"


def test_a_long_subject_is_cut_to_a_bound() -> None:
    assert len(reply(subject="x" * 1000)["Subject"]) == 250


def test_a_long_subject_is_cut_between_words_with_an_ellipsis() -> None:
    words = " ".join(f"word{number}" for number in range(100))

    subject = reply(subject=words)["Subject"]

    assert len(subject) <= 250
    assert subject.endswith("\u2026")
    assert words.startswith(subject.removesuffix("\u2026") + " ")


@pytest.mark.parametrize(
    "subject",
    [
        "Task 12 added: " + " ".join(["Milch und Brot kaufen"] * 8),
        "Task 12 added: " + " ".join(["Brötchen für das Frühstück"] * 8),
        "Task 12 added: " + "日本語のタスク" * 20,
    ],
)
def test_a_long_subject_is_folded_within_78_characters_and_reads_back_whole(
    subject: str,
) -> None:
    mail = compose(
        TEXT,
        from_address=f"tasks@{DOMAIN}",
        to_address="alice@example.org",
        domain=DOMAIN,
        subject=subject,
    )
    header = mail.raw.split(b"\r\n\r\n")[0].decode("ascii")
    field = re.search(r"^Subject:.*?(?=\r\n\S)", header, re.MULTILINE | re.DOTALL)

    assert field is not None
    assert all(len(line) <= 78 for line in field.group(0).split("\r\n"))
    assert sent(mail)["Subject"] == subject


def test_a_text_reply_is_plain_text_only() -> None:
    mail = reply()

    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().splitlines() == ["Task 1 added: Buy milk"]


def test_an_html_rendering_becomes_an_alternative_to_the_text() -> None:
    rendered = Rendered(subject=None, text="Buy *milk*\n", html="<p>Buy <b>milk</b></p>")

    mail = reply(rendered=rendered)

    assert mail.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in mail.iter_parts()] == ["text/plain", "text/html"]
    html = mail.get_body(("html",))
    assert html is not None
    assert "<b>milk</b>" in html.get_content()


def test_files_follow_the_text_and_its_html_twin_as_attachment_parts() -> None:
    rendered = Rendered(subject=None, text="Your tasks\n", html="<p>Your tasks</p>")
    csv = Attachment("tasks.csv", "text/csv", "title\r\nCafé\r\n".encode(), charset="utf-8")
    raw = Attachment("bad\r\nname.bin", "application/octet-stream", b"\x00\xff")

    mail = reply(rendered=rendered, attachments=(csv, raw))

    assert mail.get_content_type() == "multipart/mixed"
    body = mail.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Your tasks"
    first, second = mail.iter_attachments()
    assert (first.get_filename(), first.get_content_type()) == ("tasks.csv", "text/csv")
    assert first.get_content_charset() == "utf-8"
    assert first.get_payload(decode=True) == csv.data
    assert first["Content-Transfer-Encoding"] == "base64"
    assert second.get_filename() == "bad name.bin"
    assert second.get_payload(decode=True) == b"\x00\xff"
    # Read back as mailcmd reads mail, the files are the same.
    view = parse_message(mail.as_bytes())
    assert [(file.filename, file.data, file.charset) for file in view.attachments] == [
        ("tasks.csv", csv.data, "utf-8"),
        ("bad name.bin", b"\x00\xff", None),
    ]


@pytest.mark.parametrize(
    ("attachment", "problem"),
    [
        (("a.csv", "text/csv", b""), "expected an Attachment, got tuple"),
        (Attachment("a", "csv", b""), "'csv' is not a content type of a file"),
        (Attachment("a", "multipart/mixed", b""), "'multipart/mixed' is not a content type"),
        (Attachment("a", "text/csv\r\nBcc: x", b""), "is not a content type of a file"),
        (Attachment("a", "text/csv", "text"), "the data of 'a' must be bytes"),  # type: ignore[arg-type]
    ],
)
def test_a_reply_refuses_a_file_it_could_not_send_where_the_handler_gave_it(
    attachment: object, problem: str
) -> None:
    context = Context(
        sender=Sender(address="alice@example.org"),
        session=None,  # type: ignore[arg-type]
        message=answered("<a@example.org>"),
        mailbox="tasks",
        address=f"tasks@{DOMAIN}",
    )

    with pytest.raises(TypeError, match=problem):
        context.reply("added", attachments=[attachment])  # type: ignore[list-item]
    assert context.replies == []


@pytest.mark.parametrize(
    ("original", "subject"),
    [
        ("add Buy milk", "Re: add Buy milk"),
        ("Re: add Buy milk", "Re: add Buy milk"),
        ("RE: Aw: re:SV: Antw: add Buy milk", "Re: add Buy milk"),
        ("", "Re: your message"),
        ("Re: ", "Re: your message"),
        ("Rebuild\nthe shed", "Re: Rebuild the shed"),
    ],
)
def test_reply_subjects_do_not_stack_prefixes(original: str, subject: str) -> None:
    assert reply_subject(original) == subject


def test_header_text_is_one_line_without_control_characters_and_bounded() -> None:
    assert header_text("a\r\n\tb\x00c\x7fd   e") == "a b c d e"
    assert header_text("y" * 300) == "y" * 200
    assert header_text("y" * 300, limit=10) == "y" * 10


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    folder: Path = tmp_path_factory.mktemp("templates")
    (folder / "added.txt").write_text(
        "{% set subject = 'Task ' ~ number ~ ' added' %}\nTask {{ number }}: {{ title }}\n"
    )
    (folder / "plain.txt").write_text("Hello {{ name }}\n")
    return Renderer([folder])


def test_a_replys_own_subject_overrides_its_templates(renderer: Renderer) -> None:
    values = {"number": 7, "title": "Buy milk"}

    from_template = render_reply(renderer, Reply(template="added", values=values), LINKS)
    overridden = render_reply(
        renderer, Reply(template="added", values=values, subject="Noted"), LINKS
    )

    assert from_template.subject == "Task 7 added"
    assert overridden.subject == "Noted"
    assert overridden.text == from_template.text == "Task 7: Buy milk\n"


@pytest.fixture
def session() -> Iterator[Session]:
    """An empty framework database in memory: no account owns any address."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as opened:
        yield opened
    engine.dispose()


def test_a_notification_comes_from_its_own_mailbox_with_its_tag(
    renderer: Renderer, session: Session
) -> None:
    reply = Reply(template="added", values={"number": 3, "title": "Paint"}, tag="3")
    notification = Notification(to="bob@example.org", reply=reply, from_mailbox="tasks")

    mail = notification_mail(session, renderer, KEYS, DOMAIN, notification, "postmaster")

    assert (mail.to, mail.from_local, mail.tag, mail.subject) == (
        "bob@example.org",
        "tasks",
        "3",
        "Task 3 added",
    )
    assert mail.answering is None
    assert not mail.is_reply


def test_a_notification_without_mailbox_or_subject_comes_from_the_given_one(
    renderer: Renderer, session: Session
) -> None:
    notification = Notification(to="bob@example.org", reply=Reply("plain", {"name": "Bob"}))

    mail = notification_mail(session, renderer, KEYS, DOMAIN, notification, "postmaster")

    assert mail.from_local == "postmaster"
    assert mail.subject == "From postmaster@"
    assert mail.rendered.text == "Hello Bob\n"


def test_a_notification_carries_the_files_of_its_reply(
    renderer: Renderer, session: Session
) -> None:
    file = Attachment("a.txt", "text/plain", b"a")
    notification = Notification(
        to="bob@example.org", reply=Reply("plain", {"name": "Bob"}, attachments=(file,))
    )

    mail = notification_mail(session, renderer, KEYS, DOMAIN, notification, "postmaster")

    assert mail.attachments == (file,)
