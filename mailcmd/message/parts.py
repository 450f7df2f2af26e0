"""The MIME tree of a message: which parts are its text, which are files, and their bytes.

The rule: a leaf part is a file (an attachment) when its disposition is `attachment`,
when it has a file name, or when it is anything but text/plain or text/html. The other
leaves are the message's text. In a multipart/alternative only one branch is text:
the first that holds text/plain, else the first that holds any. A message/* part
(a forwarded or bounced message) is one file as a whole, never searched for text.
"""

import base64
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from email import errors
from email.message import EmailMessage, Message
from pathlib import PurePosixPath

from mailcmd.message.decoding import decode_bytes, one_line, repair_surrogates
from mailcmd.message.defects import Defects
from mailcmd.message.headers import POLICY
from mailcmd.message.view import Attachment

# Real mail nests a few levels; the parser itself gives up near Python's recursion limit.
MAX_DEPTH = 32
MAX_PARTS = 1000
MAX_FILENAME = 255
_TEXT_TYPES = frozenset({"text/plain", "text/html"})
_DRIVE = re.compile(r"^[A-Za-z]:")
# Writes header fields as they came, so that none is parsed again to be refolded.
_AS_RECEIVED = POLICY.clone(refold_source="none", linesep="\r\n")


@dataclass(frozen=True)
class Part:
    """One part of the tree, with where it is ("1.2") for the operator's notes."""

    message: Message
    path: str

    @property
    def where(self) -> str:
        """How defect notes name the part."""
        return f"part {self.path}" if self.path else "message"


def walk(message: EmailMessage, defects: Defects) -> Iterator[tuple[Part, bool]]:
    """Every part in document order with whether it is in the chosen text.

    message/* parts are yielded whole, not entered; nesting and the number of parts
    are bounded, and what lies beyond the bounds is noted and skipped.
    """
    chosen = {id(part.message) for part in _text_parts(Part(message, ""), 0, defects)}
    stack = [(Part(message, ""), 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > MAX_PARTS:
            defects.add("message", f"more than {MAX_PARTS} parts; the rest are skipped")
            return
        yield part, id(part.message) in chosen
        if part.message.is_multipart() and not _is_container(part.message) and depth < MAX_DEPTH:
            children = _children(part)
            stack.extend((child, depth + 1) for child in reversed(children))


def content_type(part: Message) -> str:
    """The part's content type; a multipart whose parts could not be found is text/plain.

    Without its boundary parameter a multipart cannot be split into parts; read as
    text, it still shows what the sender wrote.
    """
    found = part.get_content_type()
    if found.startswith("multipart/") and not part.is_multipart():
        return "text/plain"
    return found


def is_attachment(part: Message) -> bool:
    """Whether a leaf part is a file rather than the message's text (see the module rule)."""
    if _disposition(part) == "attachment" or content_type(part) not in _TEXT_TYPES:
        return True
    return filename(part) is not None


def text_of(part: Part, defects: Defects) -> str:
    """The decoded text of a text part, by its charset; never raises.

    A part declared base64 that does not look like base64 was never encoded: its
    text is read as it came.
    """
    data = payload(part, defects)
    if _base64_defects(part.message) and not _looks_like_base64(str(part.message.get_payload())):
        defects.add(part.where, "declared base64 but is not; read as it came")
        data = str(part.message.get_payload()).encode("utf-8", "surrogateescape")
    text, problem = decode_bytes(data, _charset(part.message))
    if problem:
        defects.add(part.where, problem)
    return text


def payload(part: Part, defects: Defects) -> bytes:
    """The decoded bytes of a leaf part; base64 that cannot be decoded is decoded leniently."""
    message = part.message
    try:
        data = message.get_payload(decode=True)
    except Exception as error:  # an unknown transfer encoding, or worse
        defects.add(part.where, f"undecodable payload ({type(error).__name__})")
        data = None
    if any(isinstance(found, errors.InvalidBase64LengthDefect) for found in message.defects):
        # The stdlib hands back the still-encoded text here; the valid groups are better.
        data = _lenient_base64(str(message.get_payload()))
    return data if isinstance(data, bytes) else b""


def attachment(part: Part, defects: Defects) -> Attachment:
    """The part as an `Attachment`: sanitised name, type, bytes, Content-ID and charset."""
    message = part.message
    data = _serialised(part, defects) if _is_container(message) else payload(part, defects)
    try:
        content_id = one_line(str(message.get("Content-ID", "")))[:998]
    except Exception:  # a field the header parser cannot read carries no id
        content_id = ""
    return Attachment(
        filename=filename(message),
        content_type=message.get_content_type(),
        data=data,
        content_id=content_id or None,
        charset=_charset(message),
    )


def filename(part: Message) -> str | None:
    """The part's file name, decoded and reduced to a safe last path component.

    RFC 2231 and encoded-word names are decoded by the email package. Directories
    (either slash), drive letters, control and formatting characters and leading dots
    are removed, and the name is cut to 255 characters keeping its extension.
    """
    try:
        name = part.get_filename()
    except Exception:  # a broken RFC 2231 parameter: the file keeps no name
        return None
    if not name:
        return None
    name = "".join(
        ch for ch in repair_surrogates(str(name)) if unicodedata.category(ch) not in ("Cc", "Cf")
    )
    name = _DRIVE.sub("", re.split(r"[/\\]", name)[-1]).strip().lstrip(".").strip()
    if len(name) > MAX_FILENAME:
        suffix = PurePosixPath(name).suffix
        suffix = suffix if len(suffix) <= 16 else ""
        name = name[: MAX_FILENAME - len(suffix)] + suffix
    return name or None


def _text_parts(part: Part, depth: int, defects: Defects) -> list[Part]:
    message = part.message
    if _is_container(message):
        return []
    if not message.is_multipart():
        return [] if is_attachment(message) else [part]
    if depth >= MAX_DEPTH:
        defects.add(part.where, f"nested deeper than {MAX_DEPTH} levels; the rest is skipped")
        return []
    branches = [_text_parts(child, depth + 1, defects) for child in _children(part)]
    if message.get_content_subtype() != "alternative":
        return [leaf for branch in branches for leaf in branch]
    for branch in branches:
        if any(content_type(leaf.message) == "text/plain" for leaf in branch):
            return branch
    return next((branch for branch in branches if branch), [])


def _children(part: Part) -> list[Part]:
    payload = part.message.get_payload()
    if not isinstance(payload, list):
        return []
    prefix = f"{part.path}." if part.path else ""
    return [
        Part(child, f"{prefix}{index}")
        for index, child in enumerate(payload, start=1)
        if isinstance(child, Message)
    ]


def _is_container(part: Message) -> bool:
    # A message/* part holds a whole message; the parser makes it look multipart.
    return part.get_content_maintype() == "message"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # an unreadable disposition disposes nothing
        return None


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # e.g. an RFC 2231 charset parameter that does not decode
        return None


def _serialised(part: Part, defects: Defects) -> bytes:
    inner = part.message.get_payload()
    if not isinstance(inner, list):
        return payload(part, defects)
    try:
        return b"".join(
            message.as_bytes(policy=_AS_RECEIVED)
            for message in inner
            if isinstance(message, Message)
        )
    except Exception as error:  # the generator trips over what the parser let through
        defects.add(part.where, f"cannot be written back ({type(error).__name__})")
        return b""


def _base64_defects(part: Message) -> bool:
    kinds = (errors.InvalidBase64CharactersDefect, errors.InvalidBase64LengthDefect)
    return any(isinstance(found, kinds) for found in part.defects)


def _looks_like_base64(text: str) -> bool:
    # Base64 lines hold no spaces; a stray character in a long text is line noise.
    lines = [line.strip() for line in text.splitlines()]
    if any(" " in line or "\t" in line for line in lines):
        return False
    joined = "".join(lines)
    strays = len(re.sub(r"[A-Za-z0-9+/=]", "", joined))
    return strays * 20 < len(joined)


def _lenient_base64(text: str) -> bytes:
    data = re.sub(rb"[^A-Za-z0-9+/]", b"", text.encode("ascii", "ignore"))
    # One character past a group of four carries no whole byte.
    if len(data) % 4 == 1:
        data = data[:-1]
    return base64.b64decode(data + b"=" * (-len(data) % 4))
