"""Files as a command's arguments and in its replies, through the real SMTP path (lab app)."""

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailcmd.testing import Exchange, MailTestClient
from tests.conftest import ALICE, LAB_COMMANDS, LAB_TEMPLATES, lab_notes
from tests.servers import TIMEOUT, Sink

LAB = "lab@app.localhost"
BOB = "bob@app.localhost"
STRANGER = "someone@example.org"

File = tuple[str, str, bytes]
PHOTO: File = ("photo.png", "image/png", b"\x89PNG" + b"p" * 40)
NOTE: File = ("note.txt", "application/octet-stream", b"n" * 40)


def with_files(mail: MailTestClient, to: str, subject: str, files: list[File]) -> EmailMessage:
    message = mail.compose(to, subject, "", ALICE, None)
    for filename, content_type, data in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def send_files(mail: MailTestClient, files: list[File], subject: str = "files") -> Exchange:
    return mail.send(LAB, message=with_files(mail, LAB, subject, files), login=ALICE)


def attached(reply: EmailMessage) -> list[File]:
    return [
        (str(part.get_filename()), part.get_content_type(), part.get_payload(decode=True))
        for part in reply.iter_attachments()
        if isinstance(part, EmailMessage)
    ]


def refusal(exchange: Exchange) -> str:
    assert str(exchange.reply["Subject"]).strip().startswith("Not done")
    return " ".join(exchange.reply_text.split())


def test_attached_files_fill_a_list_parameter_and_go_back_with_the_reply(
    lab: MailTestClient,
) -> None:
    exchange = send_files(lab, [PHOTO, NOTE])

    assert exchange.reply["Subject"] == "Files: 2"
    assert exchange.reply.get_content_type() == "multipart/mixed"
    assert "photo.png (image/png, 44 bytes)" in exchange.reply_text
    assert attached(exchange.reply) == [PHOTO, NOTE]
    assert lab_notes(lab) == ["photo.png", "note.txt"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ([], "FILES is missing: attach a file of type image/* or .txt"),
        ([PHOTO, NOTE, NOTE], "FILES takes at most 2 files, got 3"),
        (
            [("report.pdf", "application/pdf", b"%PDF")],
            "'report.pdf' is application/pdf; FILES takes image/* or .txt",
        ),
        (
            [("big.txt", "text/plain", b"b" * 101)],
            "'big.txt' is 101 bytes; FILES takes at most 100 bytes per file",
        ),
        (
            [("a.txt", "text/plain", b"a" * 80), ("b.txt", "text/plain", b"b" * 80)],
            "the files are 160 bytes in all; FILES takes at most 150 bytes",
        ),
    ],
)
def test_files_that_break_a_limit_run_nothing_and_are_told_why(
    lab: MailTestClient, files: list[File], expected: str
) -> None:
    exchange = send_files(lab, files)

    assert expected in refusal(exchange)
    assert "files <attach FILES ...>" in exchange.reply_text
    assert attached(exchange.reply) == []
    assert lab_notes(lab) == []


def test_a_notification_carries_its_files_to_the_other_account(lab: MailTestClient) -> None:
    lab.add_account(BOB)

    exchange = send_files(lab, [PHOTO], subject=f"tell {BOB} look")

    told = [reply for reply in exchange.replies if reply["To"] == BOB]
    assert len(told) == 1
    assert attached(told[0]) == [PHOTO]
    assert attached(exchange.replies[0]) == []


def test_help_lists_the_files_a_command_takes(lab: MailTestClient) -> None:
    text = " ".join(lab.send(LAB, "help files").reply_text.split())

    assert "To lab@app.localhost, the subject: files <attach FILES ...>" in text
    assert (
        "<attach FILES ...> Attached files. Accepts image/* or .txt, at most 2 files, "
        "at most 100 bytes each, at most 150 bytes in all."
    ) in text


def test_a_reply_with_a_file_leaves_through_the_relay_whole(
    tmp_path: Path, database_url: str, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    relay = {"host": "127.0.0.1", "port": port, "starttls": "off"}
    with MailTestClient(
        LAB_COMMANDS,
        tmp_path / "relay",
        database_url=database_url,
        templates=LAB_TEMPLATES,
        settings={"relay": relay},
    ) as mail:
        message = with_files(mail, "public@app.localhost", "copy", [PHOTO])
        del message["From"]
        message["From"] = STRANGER
        mail.send("public@app.localhost", message=message, login="", sender=STRANGER)
        assert handler.arrived.wait(TIMEOUT)

    _, rcpt_tos, content = handler.received[0]
    relayed = message_from_bytes(content, policy=policy.default)
    assert rcpt_tos == [STRANGER]
    assert isinstance(relayed, EmailMessage)
    assert attached(relayed) == [PHOTO]


def test_a_handler_sends_a_file_of_its_own_making(lab: MailTestClient) -> None:
    exchange = lab.send("public@app.localhost", "copy")

    assert attached(exchange.reply) == [("hello.txt", "text/plain", b"hello\n")]
    assert next(exchange.reply.iter_attachments())["Content-Type"].params["charset"] == "us-ascii"
