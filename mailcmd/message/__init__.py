"""The message view: a received mail decoded for handlers, and nothing but decoding.

`parse_message` turns the bytes of a message into a `MessageView`: header values
decoded to one line each, the body's text (format=flowed unwrapped, HTML rendered as
text when there is no plain text), the sender's new text without quotes and
signature, and the attached files. It never raises: broken MIME, bad encodings and
unknown charsets degrade to the best that can be read, and `defects` says what was
wrong for the operator.
"""

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesParser

from mailcmd.message.decoding import clean_text
from mailcmd.message.defects import Defects
from mailcmd.message.flowed import decode_flowed
from mailcmd.message.headers import POLICY, HeaderFields
from mailcmd.message.html_text import html_to_text
from mailcmd.message.parts import Part, attachment, content_type, is_attachment, text_of, walk
from mailcmd.message.quotes import new_text
from mailcmd.message.view import Attachment, MessageView

__all__ = ["Attachment", "MessageView", "parse_message"]

# A tag, for the fallback that strips them. Not `<[^>]*>`: from each of a run of `<`
# without `>` it would scan to the end, time quadratic in the length of the run.
_TAG = re.compile(r"<[^<>]*>")


def parse_message(raw: bytes) -> MessageView:
    """Decode the bytes of a message into a `MessageView`; never raises.

    Parsing is the stdlib email package's with `policy.default`, except that header
    fields are read only up to a bound (see `headers.BoundedPolicy`). Whatever cannot
    be read as it should is noted in `defects`, and the view holds the best that could
    be had: undecodable bytes as U+FFFD, base64 decoded as far as it goes, an unknown
    charset read as UTF-8, a field that cannot be parsed as absent.
    """
    defects = Defects()
    message, whole = _parse(raw, defects)
    try:
        return _view(message, whole, defects)
    except Exception as error:
        # Each reader guards the stdlib calls known to fail; this is for the unknown
        # ones, so that one bad message can never stop the worker.
        defects.add("message", f"unreadable ({type(error).__name__})")
        return _view(EmailMessage(policy=POLICY), False, defects)


def _view(message: EmailMessage, whole: bool, defects: Defects) -> MessageView:
    fields = HeaderFields(message, defects)
    name, sender = fields.sender()
    text, attachments = _body(message, defects) if whole else ("", ())
    return MessageView(
        subject=fields.text("Subject") or "",
        sender=sender,
        sender_name=name,
        message_id=next(iter(fields.message_ids("Message-ID")), None),
        in_reply_to=next(iter(fields.message_ids("In-Reply-To")), None),
        references=fields.message_ids("References"),
        auto_submitted=fields.lower("Auto-Submitted"),
        precedence=fields.lower("Precedence"),
        list_id=fields.text("List-Id") or None,
        date=fields.date(),
        text=text,
        new_text=new_text(text),
        attachments=attachments,
        defects=defects.notes(),
        message=message,
    )


def _parse(raw: bytes, defects: Defects) -> tuple[EmailMessage, bool]:
    """The parsed message, and whether its body could be parsed too."""
    try:
        return message_from_bytes(raw, policy=POLICY), True
    except RecursionError:
        defects.add("message", "MIME parts nested too deeply; only the header is read")
    except Exception as error:  # the feed parser is meant never to raise; be sure
        defects.add("message", f"unparseable ({type(error).__name__}); only the header is read")
    try:
        return BytesParser(policy=POLICY).parsebytes(raw, headersonly=True), False
    except Exception:
        return EmailMessage(policy=POLICY), False


def _body(message: EmailMessage, defects: Defects) -> tuple[str, tuple[Attachment, ...]]:
    try:
        return _text_and_files(message, defects)
    except Exception as error:  # as in parse_message: one bad body costs the body only
        defects.add("body", f"unreadable ({type(error).__name__})")
        return "", ()


def _text_and_files(message: EmailMessage, defects: Defects) -> tuple[str, tuple[Attachment, ...]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for part, in_text in walk(message, defects):
        leaf = part.message
        if leaf.get_content_maintype() == "message":
            attachments.append(attachment(part, defects))
        elif leaf.is_multipart():  # its parts follow
            pass
        elif in_text and content_type(leaf) == "text/html":
            html.append(_html_text(part, defects))
        elif in_text:
            plain.append(_plain_text(part, defects))
        elif is_attachment(leaf):
            attachments.append(attachment(part, defects))
        defects.add_found(part.where, leaf.defects)
    return clean_text("\n".join(plain or html)), tuple(attachments)


def _plain_text(part: Part, defects: Defects) -> str:
    text = text_of(part, defects)
    params = {str(key).lower(): str(value).lower() for key, value in part.message.get_params([])}
    if params.get("format") == "flowed":
        return decode_flowed(text, delsp=params.get("delsp") == "yes")
    return text


def _html_text(part: Part, defects: Defects) -> str:
    html = text_of(part, defects)
    try:
        return html_to_text(html)
    except Exception as error:  # html.parser has asserted on broken markup before
        defects.add(part.where, f"HTML not rendered ({type(error).__name__})")
        return _TAG.sub(" ", html)
