"""The message view: body text from any client, quotes and signatures gone, attachments."""

from email.message import EmailMessage

import pytest

from mailcmd.message import parse_message
from mailcmd.text import html_to_text, new_text, unflow


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


THUNDERBIRD = crlf(
    "From: Alice <alice@App.Example>\n"
    "To: tasks@app.example\n"
    "Subject: Re: Task 1 added\n"
    "Message-ID: <m2@example>\n"
    "In-Reply-To: <m1@example>\n"
    "References: <m0@example> <m1@example>\n"
    "Date: Sat, 28 Nov 2026 10:00:00 +0100\n"
    "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
    "\n"
    "This is a long sentence that Thunderbird wrapped at the end of \n"
    "a line.\n"
    " From the stuffed line.\n"
    "\n"
    "On 28/11/2026 09:00, tasks@app.example wrote:\n"
    "> Task 1: Buy milk, which is a long title that \n"
    "> wraps too.\n"
    "\n"
    "-- \n"
    "Alice\n"
)


def test_headers_are_decoded() -> None:
    view = parse_message(THUNDERBIRD)

    assert view.sender == "alice@app.example"
    assert view.sender_name == "Alice"
    assert view.message_id == "<m2@example>"
    assert view.in_reply_to == "<m1@example>"
    assert view.references == ("<m0@example>", "<m1@example>")
    assert view.date is not None
    assert view.date.utcoffset() is not None


def test_flowed_soft_breaks_are_joined_and_stuffing_removed() -> None:
    view = parse_message(THUNDERBIRD)

    assert view.text.startswith(
        "This is a long sentence that Thunderbird wrapped at the end of a line.\n"
        "From the stuffed line."
    )
    assert "> Task 1: Buy milk, which is a long title that wraps too." in view.text


def test_flowed_delsp_removes_the_soft_break_space() -> None:
    assert unflow("Zusammen \ngeschrieben", delsp=True) == "Zusammengeschrieben"


def test_the_signature_separator_is_never_flowed() -> None:
    assert unflow("Text\n-- \nAlice") == "Text\n-- \nAlice"


def test_quotes_and_signature_are_stripped_from_the_new_text() -> None:
    assert parse_message(THUNDERBIRD).new_text == (
        "This is a long sentence that Thunderbird wrapped at the end of a line.\n"
        "From the stuffed line."
    )


@pytest.mark.parametrize(
    "quoted",
    [
        "On Sat, 28 Nov 2026 at 10:00, Bob <bob@example.org> wrote:\n> old",
        "On Sat, Nov 28, 2026 at 10:00 AM Bob <\nbob@example.org> wrote:\n> old",
        "Am 28.11.2026 um 10:00 schrieb Bob:\n> alt",
        "Le sam. 28 nov. 2026 à 10:00, Bob a écrit :\n> vieux",
        "El sáb, 28 nov 2026 a las 10:00, Bob escribió:\n> viejo",
        "-----Original Message-----\nFrom: Bob\nSent: Saturday\nold",
        "________________________________\nFrom: Bob <bob@example.org>\nSent: Saturday\nold",
        "From: Bob <bob@example.org>\nSent: Saturday, 28 November 2026 10:00\nold",
    ],
    ids=[
        "apple",
        "gmail-wrapped",
        "german",
        "french",
        "spanish",
        "outlook",
        "outlook-rule",
        "outlook-headers",
    ],
)
def test_attributions_of_common_clients_end_the_new_text(quoted: str) -> None:
    assert new_text(f"Done, thanks.\n\n{quoted}\nmore old text") == "Done, thanks."


def test_answers_between_quotes_are_kept() -> None:
    text = "> first question\nfirst answer\n> second question\nsecond answer"

    assert new_text(text) == "first answer\nsecond answer"


def test_phone_trailers_are_dropped() -> None:
    assert new_text("add milk\n\nSent from my iPhone") == "add milk"


def test_html_only_mail_becomes_readable_text() -> None:
    html = (
        "<html><head><style>p {color: red}</style><script>x()</script></head><body>"
        "<p>Hello <b>Alice</b> &amp; Bob</p><ul><li>one</li><li>two</li></ul>"
        "<p>See <a href='https://example.org/x'>the page</a></p>"
        "<blockquote>old<br>text</blockquote></body></html>"
    )

    assert html_to_text(html) == (
        "Hello Alice & Bob\n\n- one\n- two\n\nSee the page (https://example.org/x)\n\n> old\n> text"
    )


def test_html_is_used_only_when_there_is_no_plain_part() -> None:
    mail = EmailMessage()
    mail["From"] = "a@example.org"
    mail.set_content("plain words\n")
    mail.add_alternative("<p>html words</p>", subtype="html")
    html_only = EmailMessage()
    html_only["From"] = "a@example.org"
    html_only.set_content("<p>only <i>html</i></p>", subtype="html")

    assert parse_message(mail.as_bytes()).text == "plain words"
    assert parse_message(html_only.as_bytes()).text == "only html"


def test_attachments_keep_decoded_names_without_paths() -> None:
    mail = EmailMessage()
    mail["From"] = "a@example.org"
    mail.set_content("see attached\n")
    mail.add_attachment(
        b"%PDF-1.4", maintype="application", subtype="pdf", filename="Übersicht.pdf"
    )
    mail.add_attachment(b"x", maintype="text", subtype="plain", filename="../../etc/passwd")
    mail.add_attachment(b"y", maintype="image", subtype="png", filename="C:\\tmp\\shot.png")

    view = parse_message(mail.as_bytes())

    assert [a.filename for a in view.attachments] == ["Übersicht.pdf", "passwd", "shot.png"]
    assert view.attachments[0].data == b"%PDF-1.4"
    assert view.attachments[0].content_type == "application/pdf"
    assert view.text == "see attached"


@pytest.mark.parametrize(
    "raw",
    [
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain\r\n\r\nnever closed",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!not base64!!",
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nhello",
        b"From: \xff\xfe broken <\xff@\xfe>\r\nSubject: \xe9t\xe9\r\n\r\nbody",
        b"Subject: =?utf-8?q?bad=ZZ?=\r\n\r\n",
        b"",
        b"\x00\x01\x02 not a message at all",
    ],
    ids=[
        "no-closing-boundary",
        "bad-base64",
        "unknown-charset",
        "8bit-headers",
        "bad-encoded-word",
        "empty",
        "binary",
    ],
)
def test_malformed_mail_parses_without_raising(raw: bytes) -> None:
    view = parse_message(raw)

    assert isinstance(view.text, str)
    assert isinstance(view.subject, str)


def test_header_values_are_one_line() -> None:
    view = parse_message(b"Subject: =?utf-8?q?add_x=0D=0ABcc:_victim@example.com?=\r\n\r\nx")

    assert "\n" not in view.subject
    assert "\r" not in view.subject
