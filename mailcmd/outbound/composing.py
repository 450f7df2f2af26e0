"""Composing mail as bytes: the header and MIME body of what mailcmd sends.

Pure and fast: every reply passes through here, so the bytes are written directly
rather than built with the `email` package's header registry (which costs several
times as much per mail). What it promises, and `tests/unit/test_composition.py`
checks by parsing the result with the standard library: no header injection (control
characters never reach a header), RFC 2047 encoded words for non-ASCII header text,
RFC 2231 file names, headers folded under 78 characters where they have spaces to
fold at (an encoded word, with the name of the header before it, fits one line),
a long subject cut at a word boundary with `…`, body lines within SMTP's 998, CRLF
line ends throughout. The text part is format=flowed (`mailcmd.message.flowed`).
"""

import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from mailcmd.app.rendering import Rendered
from mailcmd.app.subject_lines import shorten
from mailcmd.db.types import utc_now
from mailcmd.message import Attachment, MessageView
from mailcmd.message.flowed import encode_flowed
from mailcmd.operations.traces import TRACE_HEADER, current_trace_id, new_trace_id

# Control characters (CR and LF among them) never reach a header from mail content.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw)\s*:\s*", re.IGNORECASE)
MAX_REFERENCES = 20
# RFC 5322's limits: a line should fit 78 characters and must fit 998.
_FOLD_AT = 78
_MAX_LINE = 998
# The most a subject shows; the body holds whatever a subject was made from in full.
MAX_SUBJECT = 250
# UTF-8 bytes per encoded word: 42 become 56 base64 characters, 68 with the wrapping,
# so that "Subject: " and the first word stay under 78 too.
_WORD_BYTES = 42
_CRLF = "\r\n"


@dataclass(frozen=True)
class ComposedMail:
    """A mail ready to store or send: its bytes, and what the outbox records of it."""

    raw: bytes
    to: str
    message_id: str
    # The trace it was made in, as its X-Mailcmd-Trace header says (`mailcmd.operations.traces`).
    trace_id: str


def header_text(value: str, limit: int = 200) -> str:
    """Return `value` safe for a header: one line, no control characters, bounded."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def reply_subject(original: str) -> str:
    """Return `Re: <original>` without stacking prefixes."""
    # Not cut here: `compose` cuts the whole subject, at a word boundary.
    subject = header_text(original, limit=_MAX_LINE)
    while True:
        stripped = _REPLY_PREFIX.sub("", subject, count=1)
        if stripped == subject:
            break
        subject = stripped
    return f"Re: {subject}" if subject else "Re: your message"


def compose(
    rendered: Rendered,
    *,
    from_address: str,
    to_address: str,
    domain: str,
    subject: str,
    reply_to: str | None = None,
    answering: MessageView | None = None,
    auto_submitted: str = "auto-replied",
    attachments: Sequence[Attachment] = (),
    message_id: str | None = None,
    date: datetime | None = None,
) -> ComposedMail:
    """Compose the mail: text/plain, with an HTML alternative when rendered, and the headers.

    With `attachments` it is multipart/mixed: the text (and its HTML alternative)
    first, then each file as an attachment part, base64 encoded, with its file name
    and, for text, its charset.

    `answering` threads the mail under the message it answers (`In-Reply-To`,
    `References`). Every mail mailcmd sends is marked `Auto-Submitted` (RFC 3834):
    `auto-replied` by default, `auto-generated` for mail that answers nothing.
    Its `X-Mailcmd-Trace` names the trace it is made in, or a new one outside any
    (see `mailcmd.operations.traces`). `message_id` (`<...>`) and `date` replace a new
    Message-ID and the present time, for a mail that must read the same each time it
    is made (an app folder's message).
    """
    to = header_text(to_address, limit=254)
    message_id = header_text(message_id, limit=250) if message_id else make_msgid(domain=domain)
    trace_id = current_trace_id() or new_trace_id()
    lines = [
        f"From: {header_text(from_address, limit=254)}",
        f"To: {to}",
        _folded("Subject", _encoded(shorten(header_text(subject, limit=_MAX_LINE), MAX_SUBJECT))),
        f"Date: {format_datetime(date or utc_now())}",
        f"Message-ID: {message_id}",
        f"{TRACE_HEADER}: {trace_id}",
    ]
    if reply_to is not None:
        lines.append(f"Reply-To: {header_text(reply_to, limit=254)}")
    parent = _message_id(answering.message_id) if answering is not None else None
    if answering is not None and parent:
        # A Message-ID is ASCII (RFC 5322); one that is not cannot thread anything.
        references = [ref for ref in map(_message_id, answering.references) if ref]
        lines.append(_folded("In-Reply-To", parent))
        newest = [*references[-(MAX_REFERENCES - 1) :], parent]
        lines.append(_folded("References", " ".join(newest)))
    lines.append(f"Auto-Submitted: {header_text(auto_submitted, limit=40)}")
    lines.append("MIME-Version: 1.0")
    # Flowed, so that a long line reads well at any window width (RFC 3676).
    body = _text_part("plain", encode_flowed(rendered.text), "; format=flowed; delsp=no")
    if rendered.html is not None:
        body = _multipart("alternative", [body, _text_part("html", rendered.html)])
    if attachments:
        body = _multipart("mixed", [body, *(_file_part(file) for file in attachments)])
    # UTF-8 rather than ASCII only for an address a caller did not normalise: the
    # header never fails to encode, whatever reached it.
    return ComposedMail(
        raw=(_CRLF.join(lines) + _CRLF).encode("utf-8", "replace") + body,
        to=to,
        message_id=message_id,
        trace_id=trace_id,
    )


def _message_id(value: str | None) -> str | None:
    """`value` as a Message-ID safe for a header, or None when it is not one (not ASCII)."""
    text = header_text(value or "", limit=250)
    return text if text and text.isascii() else None


def _encoded(text: str) -> str:
    """`text` as header text: itself when ASCII, else RFC 2047 encoded words.

    ASCII that a reader would take for an encoded word is encoded too, so that what
    arrives is what was written.
    """
    if text.isascii() and "=?" not in text:
        return text
    words = []
    chunk = b""
    for character in text:
        encoded = character.encode("utf-8", "replace")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return " ".join(
        f"=?utf-8?b?{binascii.b2a_base64(word, newline=False).decode('ascii')}?=" for word in words
    )


def _folded(name: str, value: str) -> str:
    """The header line `name: value`, folded at spaces to keep lines under 78 characters."""
    line = f"{name}: {value}"
    if len(line) <= _FOLD_AT:
        return line
    lines = []
    current = f"{name}:"
    for word in value.split(" "):
        if len(current) + 1 + len(word) > _FOLD_AT and current != f"{name}:":
            lines.append(current)
            current = ""
        current = f"{current} {word}"
    lines.append(current)
    return _CRLF.join(lines)


def _text_part(subtype: str, text: str, parameters: str = "") -> bytes:
    """A text part in UTF-8: 7bit or 8bit while its lines fit SMTP's, else quoted-printable.

    `parameters` follow the charset in its Content-Type, as `; name=value` pairs.
    """
    # Bytes split only at CR and LF: str.splitlines would also split at U+2028 and
    # other separators that are text, not line ends.
    lines = text.encode("utf-8", "replace").splitlines()
    data = b"".join(line + b"\r\n" for line in lines)
    if all(len(line) <= _MAX_LINE for line in lines):
        transfer = "7bit" if data.isascii() else "8bit"
    else:
        transfer = "quoted-printable"
        data = binascii.b2a_qp(data.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"{parameters}{_CRLF}'
        f"Content-Transfer-Encoding: {transfer}{_CRLF}{_CRLF}"
    )
    return head.encode("ascii") + data


def _file_part(file: Attachment) -> bytes:
    """An attachment part: base64, with its file name (RFC 2231 when not ASCII) and charset."""
    filename = header_text(file.filename or "", limit=255) or "attachment"
    content_type = header_text(file.content_type.lower(), limit=100)
    if file.charset:
        content_type += f"; charset={_parameter_value(header_text(file.charset, limit=40))}"
    if filename.isascii() and "=?" not in filename:
        disposition = f"attachment; filename={_parameter_value(filename)}"
    else:
        disposition = f"attachment; filename*=utf-8''{quote(filename, safe='', errors='replace')}"
    head = (
        f"Content-Type: {content_type}{_CRLF}"
        f"Content-Transfer-Encoding: base64{_CRLF}"
        f"{_folded('Content-Disposition', disposition)}{_CRLF}{_CRLF}"
    )
    data = binascii.b2a_base64(file.data, newline=False)
    lines = [data[start : start + 76] for start in range(0, len(data), 76)]
    return head.encode("ascii") + b"".join(line + b"\r\n" for line in lines)


def _parameter_value(value: str) -> str:
    """`value` as a MIME parameter value: always a quoted string, as clients write them."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    """`parts` as one multipart/`subtype` part, under a boundary none of them contains."""
    boundary = f"=_{secrets.token_hex(12)}"
    # "=_" cannot begin a line of base64 or quoted-printable; a 7bit or 8bit text
    # could hold it in principle, so it is checked.
    while any(boundary.encode("ascii") in part for part in parts):
        boundary = f"=_{secrets.token_hex(12)}"
    delimiter = f"--{boundary}{_CRLF}".encode("ascii")
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{_CRLF}{_CRLF}'
    closing = f"--{boundary}--{_CRLF}".encode("ascii")
    return head.encode("ascii") + b"".join(delimiter + part + b"\r\n" for part in parts) + closing
