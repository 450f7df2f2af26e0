"""ENVELOPE, BODYSTRUCTURE and body sections of a message, rendered for FETCH."""

import re
from email.utils import getaddresses

from mailcmd.imap.formatting import nstring, parenthesised, string
from mailcmd.imap.mime import Entity, count_lines, select_fields

_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _header(entity: Entity, name: str) -> str | None:
    value = entity.fields.get(name)
    return None if value is None else _FOLD.sub("", str(value))


def envelope(entity: Entity) -> bytes:
    """Return the ENVELOPE of a message entity: raw header values, addresses split up."""
    sender = _addresses(entity, "from")
    items = [
        nstring(_header(entity, "date")),
        nstring(_header(entity, "subject")),
        sender,
        _addresses(entity, "sender") if "sender" in entity.fields else sender,
        _addresses(entity, "reply-to") if "reply-to" in entity.fields else sender,
        _addresses(entity, "to"),
        _addresses(entity, "cc"),
        _addresses(entity, "bcc"),
        nstring(_header(entity, "in-reply-to")),
        nstring(_header(entity, "message-id")),
    ]
    return parenthesised(items)


def _addresses(entity: Entity, name: str) -> bytes:
    values = [_FOLD.sub("", str(value)) for value in entity.fields.get_all(name) or []]
    found = []
    for display, address in getaddresses(values):
        if not address:
            continue
        mailbox, at, host = address.rpartition("@")
        if not at:
            mailbox, host = address, ""
        found.append(
            parenthesised(
                [nstring(display or None), b"NIL", nstring(mailbox), nstring(host or None)]
            )
        )
    return b"(" + b"".join(found) + b")" if found else b"NIL"


def body_structure(entity: Entity, extensible: bool = True) -> bytes:
    """Return BODYSTRUCTURE (or, not `extensible`, BODY) of an entity."""
    maintype, subtype = entity.content_type
    if entity.is_multipart:
        children = b"".join(body_structure(child, extensible) for child in entity.children)
        items = [children, string(subtype.upper())]
        if extensible:
            items += [_params(entity.params()), _disposition(entity), *_language_location(entity)]
        return b"(" + b" ".join(items) + b")"
    params = entity.params()
    if maintype == "text" and not any(name == "CHARSET" for name, _ in params):
        params.append(("CHARSET", "US-ASCII"))
    items = [
        string(maintype.upper()),
        string(subtype.upper()),
        _params(params),
        nstring(_header(entity, "content-id")),
        nstring(_header(entity, "content-description")),
        string((_header(entity, "content-transfer-encoding") or "7BIT").strip().upper()),
        str(len(entity.body)).encode(),
    ]
    if entity.embedded is not None:
        items += [
            envelope(entity.embedded),
            body_structure(entity.embedded, extensible),
            str(count_lines(entity.body)).encode(),
        ]
    elif maintype == "text":
        items.append(str(count_lines(entity.body)).encode())
    if extensible:
        items += [
            nstring(_header(entity, "content-md5")),
            _disposition(entity),
            *_language_location(entity),
        ]
    return parenthesised(items)


def _params(params: list[tuple[str, str]]) -> bytes:
    if not params:
        return b"NIL"
    return parenthesised(item for name, value in params for item in (string(name), string(value)))


def _disposition(entity: Entity) -> bytes:
    disposition = entity.fields.get_content_disposition()
    if disposition is None:
        return b"NIL"
    return parenthesised(
        [string(disposition.upper()), _params(entity.params("content-disposition"))]
    )


def _language_location(entity: Entity) -> list[bytes]:
    return [
        nstring(_header(entity, "content-language")),
        nstring(_header(entity, "content-location")),
    ]


# Outside the MailcmdError family: a signal, which the caller turns into an empty section.
class SectionError(Exception):
    """A body section names a part that the message does not have."""


def section_bytes(
    root: Entity, raw: bytes, path: tuple[int, ...], text: str, names: frozenset[str]
) -> bytes:
    """Return the bytes of a body section: part `path`, then HEADER, TEXT, MIME or all.

    `text` is "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT" or "MIME";
    `names` are the lower-case field names for the HEADER.FIELDS forms. A part that
    does not exist gives empty bytes, as common servers answer.
    """
    try:
        entity = _find(root, path)
    except SectionError:
        return b""
    if text == "MIME":
        return entity.header if path else b""
    if text == "" and not path:
        return raw
    if text == "":
        return entity.body
    message = entity if not path else entity.embedded
    if message is None:
        return b""
    if text == "HEADER":
        return message.header
    if text == "TEXT":
        return message.body
    return select_fields(message.header, set(names), keep=text == "HEADER.FIELDS")


def _find(root: Entity, path: tuple[int, ...]) -> Entity:
    entity = root
    for number in path:
        container = entity
        if entity is not root and entity.embedded is not None:
            container = entity.embedded
        if container.is_multipart:
            if number > len(container.children):
                raise SectionError(number)
            entity = container.children[number - 1]
        elif number == 1:
            entity = container
        else:
            raise SectionError(number)
    return entity
