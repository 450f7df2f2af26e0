"""FETCH data items: parsed from the command, rendered for one message."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mailcmd.imap.formatting import flag_list, internal_date, literal
from mailcmd.imap.mime import Entity, parse_entity
from mailcmd.imap.structure import body_structure, envelope, section_bytes
from mailcmd.imap.tokens import ImapParseError, Token, astring, tokenize

_SIMPLE = frozenset(
    {"FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY"}
    | {"RFC822", "RFC822.HEADER", "RFC822.TEXT"}
)
_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SECTION = re.compile(r"(BODY(?:\.PEEK)?)\[(.*)\](?:<(\d{1,10})\.(\d{1,10})>)?", re.I | re.S)
_SECTION_TEXT = re.compile(
    r"((?:\d+\.)*\d+)?\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?"
)
_NEEDS_RAW = frozenset({"ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.HEADER"})


@dataclass(frozen=True)
class FetchItem:
    """One data item a client asked for."""

    name: str
    path: tuple[int, ...] = ()
    text: str = ""
    names: tuple[str, ...] = ()
    peek: bool = False
    partial: tuple[int, int] | None = None

    @property
    def is_section(self) -> bool:
        """Whether this is a BODY[...] item."""
        return self.name == "SECTION"

    @property
    def sets_seen(self) -> bool:
        """Whether fetching this item marks the message \\Seen."""
        return (self.is_section and not self.peek) or self.name in ("RFC822", "RFC822.TEXT")

    @property
    def needs_raw(self) -> bool:
        """Whether rendering needs the message's bytes."""
        return self.is_section or self.name in _NEEDS_RAW or self.name == "RFC822.TEXT"

    def label(self) -> bytes:
        """The item's name as the response names it."""
        if not self.is_section:
            return self.name.encode()
        spec = ".".join(str(number) for number in self.path)
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        if self.names:
            spec += " (" + " ".join(self.names) + ")"
        origin = f"<{self.partial[0]}>" if self.partial else ""
        return f"BODY[{spec}]{origin}".encode()


def parse_fetch_items(token: Token) -> list[FetchItem]:
    """Return the items of a FETCH's item argument (an atom, a macro or a list)."""
    if isinstance(token, str) and token.upper() in _MACROS:
        return [FetchItem(name) for name in _MACROS[token.upper()]]
    tokens = token if isinstance(token, list) else [token]
    if not tokens:
        raise ImapParseError("no fetch items")
    return [_parse_item(item) for item in tokens]


def _parse_item(token: Token) -> FetchItem:
    if not isinstance(token, str):
        raise ImapParseError("fetch items are atoms")
    upper = token.upper()
    if upper in _SIMPLE:
        return FetchItem(upper)
    section = _SECTION.fullmatch(token)
    if section is None:
        raise ImapParseError(f"unknown fetch item {token[:40]}")
    peek = section.group(1).upper() == "BODY.PEEK"
    spec, _, fields = section.group(2).partition(" ")
    text_match = _SECTION_TEXT.fullmatch(spec.upper())
    if text_match is None:
        raise ImapParseError("malformed body section")
    path = tuple(int(n) for n in text_match.group(1).split(".")) if text_match.group(1) else ()
    if any(number == 0 for number in path):
        raise ImapParseError("part numbers start at 1")
    text = text_match.group(2) or ""
    if text == "MIME" and not path:
        raise ImapParseError("MIME needs a part number")
    names: tuple[str, ...] = ()
    if text.startswith("HEADER.FIELDS"):
        listed = tokenize(fields.encode())
        if len(listed) != 1 or not isinstance(listed[0], list) or not listed[0]:
            raise ImapParseError("HEADER.FIELDS needs a list of field names")
        names = tuple(astring(name).upper() for name in listed[0])
    elif fields:
        raise ImapParseError("malformed body section")
    partial = None
    if section.group(3) is not None:
        partial = (int(section.group(3)), int(section.group(4)))
    return FetchItem("SECTION", path, text, names, peek, partial)


@dataclass(frozen=True)
class MessageData:
    """What FETCH may show of one message; `raw` is only loaded when an item needs it."""

    uid: int
    flags: tuple[str, ...]
    internal_at: datetime
    size: int
    raw: bytes | None = None


def render_fetch(
    number: int, message: MessageData, items: Sequence[FetchItem], with_uid: bool
) -> bytes:
    """Return the untagged FETCH response for message `number` with `items`."""
    entity = parse_entity(message.raw) if message.raw is not None else None
    parts: list[bytes] = []
    if with_uid and not any(item.name == "UID" for item in items):
        parts.append(b"UID %d" % message.uid)
    for item in items:
        parts.append(item.label() + b" " + _value(item, message, entity))
    return b"* %d FETCH (" % number + b" ".join(parts) + b")"


def _value(item: FetchItem, message: MessageData, entity: Entity | None) -> bytes:
    name = item.name
    if name == "FLAGS":
        return flag_list(message.flags)
    if name == "UID":
        return str(message.uid).encode()
    if name == "INTERNALDATE":
        return internal_date(message.internal_at)
    if name == "RFC822.SIZE":
        return str(message.size).encode()
    assert entity is not None
    assert message.raw is not None
    if name == "ENVELOPE":
        return envelope(entity)
    if name == "BODYSTRUCTURE":
        return body_structure(entity)
    if name == "BODY":
        return body_structure(entity, extensible=False)
    if name == "RFC822":
        return literal(message.raw)
    if name == "RFC822.HEADER":
        return literal(entity.header)
    if name == "RFC822.TEXT":
        return literal(entity.body)
    data = section_bytes(
        entity, message.raw, item.path, item.text, frozenset(n.lower() for n in item.names)
    )
    if item.partial is not None:
        start, length = item.partial
        data = data[start : start + length]
    return literal(data)
