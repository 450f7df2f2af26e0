"""Replies done right: threading headers, loop prevention (RFC 3834), no header injection."""

import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from mailcmd.db.types import utc_now
from mailcmd.message import Attachment, MessageView
from mailcmd.rendering import Rendered

# Control characters (CR and LF among them) never reach a header from mail content.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw)\s*:\s*", re.IGNORECASE)
MAX_REFERENCES = 20


def may_auto_reply(view: MessageView, envelope_sender: str) -> bool:
    """Whether an automatic reply to this message is allowed (RFC 3834 section 2).

    Never to the null sender, to another auto-submitted message, to bulk, junk or
    list mail, or to mail from a mailing list.
    """
    if not envelope_sender or envelope_sender == "<>":
        return False
    if view.auto_submitted is not None and view.auto_submitted != "no":
        return False
    if view.precedence in ("bulk", "junk", "list"):
        return False
    return view.list_id is None


def header_text(value: str, limit: int = 200) -> str:
    """Return `value` safe for a header: one line, no control characters, bounded."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def reply_subject(original: str) -> str:
    """Return `Re: <original>` without stacking prefixes."""
    subject = header_text(original)
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
) -> EmailMessage:
    """Build the mail: text/plain, with an HTML alternative when rendered, and the headers.

    With `attachments` it is multipart/mixed: the text (and its HTML alternative)
    first, then each file as an attachment part, base64 encoded, with its file name
    and, for text, its charset.

    `answering` threads the mail under the message it answers (`In-Reply-To`,
    `References`). Every mail mailcmd sends is marked `Auto-Submitted` (RFC 3834):
    `auto-replied` by default, `auto-generated` for mail that answers nothing.
    """
    mail = EmailMessage()
    mail["From"] = from_address
    mail["To"] = to_address
    mail["Subject"] = header_text(subject, limit=250)
    mail["Date"] = format_datetime(utc_now())
    mail["Message-ID"] = make_msgid(domain=domain)
    if reply_to is not None:
        mail["Reply-To"] = reply_to
    if answering is not None and answering.message_id:
        parent = header_text(answering.message_id, limit=250)
        mail["In-Reply-To"] = parent
        references = [header_text(ref, limit=250) for ref in answering.references]
        mail["References"] = " ".join([*references[-(MAX_REFERENCES - 1) :], parent])
    mail["Auto-Submitted"] = auto_submitted
    mail.set_content(rendered.text)
    if rendered.html is not None:
        mail.add_alternative(rendered.html, subtype="html")
    for file in attachments:
        maintype, _, subtype = file.content_type.lower().partition("/")
        mail.add_attachment(
            file.data,
            maintype=maintype,
            subtype=subtype,
            filename=header_text(file.filename or "attachment", limit=255),
            params={"charset": file.charset} if file.charset else {},
        )
    return mail
