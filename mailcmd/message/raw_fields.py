"""Header fields of a message's raw bytes, read or dropped without parsing the message."""

import email.parser
import email.policy
import re
from collections.abc import Callable

HEADER_END = b"\r\n\r\n"
# The end of the header: a line ending, then an empty line (atomic groups, so that a
# CRLF is never read as a CR and an LF).
_HEADER_END = re.compile(rb"(?>\r\n|\n|\r)(?>\r\n|\n|\r)")


def drop_fields(raw: bytes, drop: Callable[[bytes], bool]) -> bytes:
    """Return `raw` without the header fields whose first line `drop` is true of.

    A field's continuation lines go with it; the body and the other fields are kept
    byte for byte. Without an empty line, all of `raw` is taken as the header.
    """
    head, separator, body = raw.partition(HEADER_END)
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):
            dropping = drop(line)
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + separator + body


def redacted(raw: bytes, note: bytes, also_dropping: tuple[bytes, ...] = ()) -> bytes:
    """Return `raw`'s header with `note` as its whole text, without the fields that name it.

    The Subject goes with the text, because what a person wrote can be there, and
    so do the MIME structure fields (a structure without its parts would be
    unreadable: the note is plain text) and any field named in `also_dropping`
    (lower case, with the colon). The other fields are kept byte for byte.
    """
    head = raw.partition(HEADER_END)[0]
    dropped = (b"content-type:", b"content-transfer-encoding:", b"subject:", *also_dropping)
    kept = drop_fields(head, lambda line: line.lower().startswith(dropped))
    return kept + HEADER_END + note


def header_length(raw: bytes | bytearray) -> int:
    """Return how many bytes of `raw` its header takes, without the empty line that ends it.

    Without an empty line, all of `raw` is taken as the header, as `drop_fields` takes it.
    """
    end = raw.find(HEADER_END)
    return len(raw) if end < 0 else end


# How the stdlib's feed parser tells a header line (a field, its continuation, or a
# Unix "From " line) from the first line of the body, and where lines end.
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def header_fields(raw: bytes | bytearray) -> dict[str, list[str]]:
    """The header fields of message `raw` by lower-cased name, as the compat32 parser reads them.

    Only the header is read, in time linear in its length: the parser would otherwise
    split the whole body into lines.
    """
    end = _HEADER_END.search(raw)
    head = bytes(raw if end is None else memoryview(raw)[: end.end()])
    fields = ascii_fields(head)
    if fields is None:
        # 8-bit bytes: the parser's own reading of them, whatever it makes of them.
        parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        fields = [(name, str(value)) for name, value in parsed.items()]
    by_name: dict[str, list[str]] = {}
    for name, value in fields:
        by_name.setdefault(name.lower(), []).append(value)
    return by_name


def ascii_fields(head: bytes) -> list[tuple[str, str]] | None:
    """The header fields of `head` exactly as the stdlib's compat32 parser reads them.

    None when the header is not all ASCII: then only the parser itself says what
    its bytes mean. Names keep their case; values keep their continuation lines.
    """
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return None
    lines: list[str] = []
    for line in _LINE.findall(text):
        if not _HEADER_LINE.match(line):
            break
        lines.append(line)
    fields: list[tuple[str, str]] = []
    current: list[str] = []
    for number, line in enumerate(lines):
        if line[0] in " \t":
            if current:  # a continuation before any field is ignored
                current.append(line)
            continue
        if current:
            fields.append(_field(current))
            current = []
        if line.startswith("From "):
            if number == len(lines) - 1:
                break  # the body's first line, as the parser takes it
            continue  # a Unix envelope line, not a field
        if line.find(":") > 0:  # a line starting with a colon names no field
            current = [line]
    if current:
        fields.append(_field(current))
    return fields


def _field(lines: list[str]) -> tuple[str, str]:
    name, value = lines[0].split(":", 1)
    return name, (value.lstrip(" \t") + "".join(lines[1:])).rstrip("\r\n")
