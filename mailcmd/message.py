"""The message as a handler sees it: headers, the sender's new text, and attachments.

Parsing never raises: broken MIME, bad encodings and unknown charsets degrade to
the best text that can be had, and the defects are listed for the operator.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import PurePosixPath, PureWindowsPath

from mailcmd.text import html_to_text, new_text, unflow

MAX_HEADER = 998


@dataclass(frozen=True)
class Attachment:
    """A file that came with the message."""

    filename: str | None
    content_type: str
    data: bytes
    content_id: str | None = None


@dataclass(frozen=True)
class MessageView:
    """A received message, decoded for handlers; built by `parse_message`."""

    subject: str
    sender: str | None
    sender_name: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    auto_submitted: str | None
    precedence: str | None
    list_id: str | None
    date: datetime | None
    text: str
    new_text: str
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...]
    message: Message = field(compare=False, repr=False)


def parse_message(raw: bytes) -> MessageView:
    """Decode `raw` into a `MessageView`; never raises on malformed input."""
    message = message_from_bytes(raw, policy=policy.default)
    defects: list[str] = [type(defect).__name__ for defect in message.defects]
    name, sender = _sender(message, defects)
    body_part = _body_part(message)
    text = _part_text(body_part, defects) if body_part is not None else ""
    if body_part is not None and body_part.get_content_type() == "text/html":
        text = html_to_text(text)
    elif body_part is not None:
        flowed = str(body_part.get_param("format", "", header="content-type")).lower()
        if flowed == "flowed":
            delsp = str(body_part.get_param("delsp", "", header="content-type")).lower() == "yes"
            text = unflow(text, delsp=delsp)
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip("\n")
    return MessageView(
        subject=_header(message, "Subject", defects) or "",
        sender=sender,
        sender_name=name,
        message_id=_message_id(_header(message, "Message-ID", defects)),
        in_reply_to=_message_id(_header(message, "In-Reply-To", defects)),
        references=tuple(re.findall(r"<[^<>\s]+>", _header(message, "References", defects) or "")),
        auto_submitted=_lower(_header(message, "Auto-Submitted", defects)),
        precedence=_lower(_header(message, "Precedence", defects)),
        list_id=_header(message, "List-Id", defects),
        date=_date(_header(message, "Date", defects)),
        text=text,
        new_text=new_text(text),
        attachments=tuple(_attachments(message, body_part, defects)),
        defects=tuple(defects),
        message=message,
    )


def _header(message: Message, name: str, defects: list[str]) -> str | None:
    try:
        value = message.get(name)
    except Exception as error:  # the stdlib's header parsers raise on some garbage
        defects.append(f"{name}: {type(error).__name__}")
        raw = message.get_all(name, failobj=[])
        value = str(raw[0]) if raw else None
    if value is None:
        return None
    # Folding and control characters are never part of a header's meaning.
    return " ".join(str(value).split())[:MAX_HEADER]


def _sender(message: Message, defects: list[str]) -> tuple[str, str | None]:
    value = _header(message, "From", defects)
    if not value:
        return "", None
    pairs = getaddresses([value])
    if not pairs or "@" not in pairs[0][1]:
        return "", None
    name, address = pairs[0]
    local, _, domain = address.rpartition("@")
    return name, f"{local}@{domain.lower()}"


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    found = re.search(r"<[^<>\s]+>", value)
    return found.group(0) if found else None


def _lower(value: str | None) -> str | None:
    return value.strip().lower() if value else None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    return disposition == "attachment" or (
        disposition == "inline"
        and part.get_filename() is not None
        and part.get_content_maintype() != "text"
    )


def _body_part(message: Message) -> Message | None:
    plain: Message | None = None
    html: Message | None = None
    for part in message.walk():
        if part.is_multipart() or _is_attachment(part):
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html is None:
            html = part
    return plain or html


def _part_text(part: Message, defects: list[str]) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        defects.append(f"unknown charset {charset!r}")
        return data.decode("utf-8", errors="replace")


def _attachments(
    message: Message, body_part: Message | None, defects: list[str]
) -> list[Attachment]:
    found: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart() or part is body_part:
            continue
        is_text_body = part.get_content_maintype() == "text" and not _is_attachment(part)
        if is_text_body:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            defects.append("attachment without a decodable payload")
            payload = b""
        content_id = part.get("Content-ID")
        found.append(
            Attachment(
                filename=_safe_filename(part),
                content_type=part.get_content_type(),
                data=payload,
                content_id=str(content_id).strip() if content_id else None,
            )
        )
    return found


def _safe_filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # a broken RFC 2231 parameter: the file keeps no name
        return None
    if not name:
        return None
    # Only the last path component survives, in either kind of path.
    base = PureWindowsPath(PurePosixPath(str(name)).name).name
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    return cleaned[:255] or None
