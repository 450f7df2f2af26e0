"""What a handler sees of a received message: `MessageView` and its `Attachment`s."""

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage


@dataclass(frozen=True)
class Attachment:
    """A file that came with a message.

    `filename` is safe to show but is not a path to trust: it has no directories, no
    control characters and no leading dots, and may be None. `content_id` is the
    Content-ID field as written, angle brackets included, for parts an HTML body
    shows inline (`cid:` links name it without the brackets). `charset` is the one
    its Content-Type declares (lower case), for text; None when it declares none.

    A handler builds one to send a file with a reply:
    `Attachment("notes.txt", "text/plain", data, charset="utf-8")`.
    """

    filename: str | None
    content_type: str
    data: bytes
    content_id: str | None = None
    charset: str | None = None


@dataclass(frozen=True)
class MessageView:
    """A received message decoded for handlers; `parse_message` builds it from bytes.

    Every string is decoded and free of control characters (text keeps tab and line
    feed); header values are one line each. `text` is the whole body text and
    `new_text` what the sender wrote this time, without quoted replies or a
    signature. `defects` says, for the operator, what was wrong with the message and
    how it was read anyway.
    """

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
    message: EmailMessage = field(compare=False, repr=False)
