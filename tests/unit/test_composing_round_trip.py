"""What mailcmd composes reads back as meant: any subject, address, text and file.

`compose` writes bytes directly; the standard library's parser (`policy.default`, as
a mail client's would) is the judge of every field.
"""

from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcmd.app.rendering import Rendered
from mailcmd.message import Attachment, MessageView, parse_message
from mailcmd.message.flowed import encode_flowed
from mailcmd.outbound.composing import MAX_REFERENCES, compose, header_text

DOMAIN = "app.example"
# Text as handlers and senders write it: any character but lone surrogates.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=400)
ATOM = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-"),
    min_size=1,
    max_size=20,
)
ADDRESS = st.builds(lambda local, host: f"{local}@{host}.example", ATOM, ATOM.map(str.lower))
MESSAGE_ID = st.builds(lambda left, right: f"<{left}@{right}>", ATOM, ATOM)


def read(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects
    return parsed


def answering(message_id: str, references: list[str]) -> MessageView:
    head = f"From: a@b.example\r\nMessage-ID: {message_id}\r\n"
    if references:
        head += f"References: {' '.join(references)}\r\n"
    return parse_message(f"{head}Subject: x\r\n\r\nhi\r\n".encode())


@settings(max_examples=300, deadline=None)
@given(subject=TEXT, to=ADDRESS, tag=ATOM, text=TEXT, html=st.none() | TEXT)
def test_headers_and_text_read_back_as_written(
    subject: str, to: str, tag: str, text: str, html: str | None
) -> None:
    composed = compose(
        Rendered(subject=None, text=text, html=html),
        from_address=f"tasks@{DOMAIN}",
        to_address=to,
        domain=DOMAIN,
        subject=subject,
        reply_to=f"tasks+{tag}@{DOMAIN}",
    )

    mail = read(composed.raw)

    assert all(len(line) <= 998 for line in composed.raw.split(b"\r\n"))
    assert b"\n" not in composed.raw.replace(b"\r\n", b"")
    assert mail["From"] == f"tasks@{DOMAIN}"
    assert mail["To"] == to == composed.to
    assert mail["Reply-To"] == f"tasks+{tag}@{DOMAIN}"
    assert mail["Subject"] == header_text(subject, limit=250)
    assert mail["Message-ID"] == composed.message_id
    assert composed.message_id.endswith(f"@{DOMAIN}>")
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["Date"] is not None
    assert [key for key in mail if key.lower() in ("bcc", "cc")] == []
    plain = mail.get_body(("plain",))
    assert plain is not None
    assert plain.get_content_charset() == "utf-8"
    # Sent as format=flowed: the encoder's lines (`tests/unit/test_flowed_encoding.py`
    # holds what they mean), each arriving exactly as written.
    assert plain.get_param("format") == "flowed"
    assert _lines(plain.get_content()) == [*_lines_written(encode_flowed(text)), ""]
    if html is not None:
        rich = mail.get_body(("html",))
        assert rich is not None
        assert _lines(rich.get_content()) == [*_lines_written(html), ""]


@settings(max_examples=100, deadline=None)
@given(parent=MESSAGE_ID, references=st.lists(MESSAGE_ID, max_size=40))
def test_threading_reads_back_with_the_newest_references(
    parent: str, references: list[str]
) -> None:
    composed = compose(
        Rendered(subject=None, text="ok\n", html=None),
        from_address=f"tasks@{DOMAIN}",
        to_address="alice@example.org",
        domain=DOMAIN,
        subject="Re: x",
        answering=answering(parent, references),
    )

    mail = read(composed.raw)

    assert all(len(line) <= 78 for line in composed.raw.split(b"\r\n\r\n")[0].split(b"\r\n"))
    assert mail["In-Reply-To"] == parent
    assert mail["References"].split() == [*references[-(MAX_REFERENCES - 1) :], parent]


@settings(max_examples=200, deadline=None)
@given(
    files=st.lists(
        st.tuples(TEXT, st.binary(max_size=300), st.sampled_from([None, "utf-8", "iso-8859-1"])),
        min_size=1,
        max_size=3,
    )
)
def test_files_read_back_with_their_names_data_and_charsets(
    files: list[tuple[str, bytes, str | None]],
) -> None:
    attachments = tuple(
        Attachment(
            name,
            "application/octet-stream" if charset is None else "text/csv",
            data,
            charset=charset,
        )
        for name, data, charset in files
    )
    composed = compose(
        Rendered(subject=None, text="Your files\n", html="<p>Your files</p>"),
        from_address=f"tasks@{DOMAIN}",
        to_address="alice@example.org",
        domain=DOMAIN,
        subject="files",
        attachments=attachments,
    )

    mail = read(composed.raw)

    assert mail.get_content_type() == "multipart/mixed"
    parts = list(mail.iter_attachments())
    assert [
        (part.get_filename(), part.get_payload(decode=True), part.get_content_charset())
        for part in parts
    ] == [
        (header_text(name, limit=255) or "attachment", data, charset)
        for name, data, charset in files
    ]


@settings(max_examples=100, deadline=None)
@given(parent=TEXT, references=st.lists(TEXT, max_size=5))
def test_any_message_id_it_answers_threads_or_is_left_out_but_never_breaks_it(
    parent: str, references: list[str]
) -> None:
    view = answering("<p@example.org>", [])
    hostile = replace(view, message_id=parent, references=tuple(references))

    composed = compose(
        Rendered(subject=None, text="ok\n", html=None),
        from_address=f"tasks@{DOMAIN}",
        to_address="alice@example.org",
        domain=DOMAIN,
        subject="Re: x",
        answering=hostile,
    )

    mail = read(composed.raw)
    expected = header_text(parent, limit=250)
    if expected and expected.isascii():
        assert mail["In-Reply-To"] == expected
    else:
        assert mail["In-Reply-To"] is None


def _lines(content: str) -> list[str]:
    """The lines of a part's content as read back."""
    return content.replace("\r\n", "\n").split("\n")


def _lines_written(text: str) -> list[str]:
    """`text`'s lines as they travel: each ended by CRLF, wherever it had CR or LF."""
    return [line.decode() for line in text.encode().splitlines()]
