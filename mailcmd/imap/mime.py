"""A message's MIME structure over its exact bytes, as FETCH body sections need it.

The stdlib parser reads header fields; the splitting into parts is done here on the
raw bytes, because IMAP clients fetch parts by offset and size and those must be the
bytes as stored, not a re-serialisation.
"""

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value

MAX_DEPTH = 20
MAX_PARTS = 1000
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_START = re.compile(rb"^[^ \t\r\n]", re.MULTILINE)


@dataclass
class Entity:
    """One MIME entity: its header bytes (blank line included), its body and its parts."""

    header: bytes
    body: bytes
    fields: Message
    children: list["Entity"] = field(default_factory=list)
    # The message inside a message/rfc822 entity.
    embedded: "Entity | None" = None

    @property
    def content_type(self) -> tuple[str, str]:
        """The type and subtype, lower case (text/plain when absent or broken)."""
        maintype, _, subtype = self.fields.get_content_type().partition("/")
        return maintype, subtype

    @property
    def is_multipart(self) -> bool:
        """Whether the entity is a multipart with a usable boundary."""
        return bool(self.children)

    def params(self, header: str = "content-type") -> list[tuple[str, str]]:
        """The parameters of a header (Content-Type by default), names upper-cased."""
        found = []
        for name, value in (self.fields.get_params(header=header) or [])[1:]:
            text = collapse_rfc2231_value(value) if isinstance(value, tuple) else value
            found.append((name.upper(), str(text)))
        return found


def parse_entity(raw: bytes) -> Entity:
    """Return the MIME structure of the message `raw`; never raises for malformed input."""
    counter = [0]
    return _entity(raw, depth=0, counter=counter, digest=False)


def _entity(raw: bytes, depth: int, counter: list[int], digest: bool) -> Entity:
    counter[0] += 1
    header, body = split_header(raw)
    fields = BytesHeaderParser(policy=compat32).parsebytes(header)
    if digest and "content-type" not in fields:
        fields["Content-Type"] = "message/rfc822"
    entity = Entity(header=header, body=body, fields=fields)
    if depth >= MAX_DEPTH or counter[0] >= MAX_PARTS:
        return entity
    maintype, subtype = entity.content_type
    if maintype == "multipart":
        boundary = fields.get_boundary()
        if boundary:
            entity.children = [
                _entity(chunk, depth + 1, counter, digest=subtype == "digest")
                for chunk in split_multipart(body, boundary.encode("utf-8", "surrogateescape"))
            ]
    elif (maintype, subtype) == ("message", "rfc822"):
        entity.embedded = _entity(body, depth + 1, counter, digest=False)
    return entity


def split_header(raw: bytes) -> tuple[bytes, bytes]:
    """Split a message into its header (with the blank line) and its body."""
    if raw.startswith((b"\r\n", b"\n")):
        blank = 2 if raw.startswith(b"\r\n") else 1
        return raw[:blank], raw[blank:]
    end = _HEADER_END.search(raw)
    if end is None:
        return raw, b""
    return raw[: end.end()], raw[end.end() :]


def split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """Return the parts of a multipart body, each without the line breaks around delimiters."""
    delimiter = re.compile(rb"(?:\A|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    parts: list[bytes] = []
    start: int | None = None
    for match in delimiter.finditer(body):
        if start is not None:
            parts.append(body[start : match.start()])
        if match.group(1):
            return parts
        start = match.end()
        if len(parts) >= MAX_PARTS:
            return parts
    if start is not None:
        parts.append(body[start:])
    return parts


def header_fields(header: bytes) -> list[tuple[str, bytes]]:
    """Return each header field's lower-case name and its raw bytes (continuations too)."""
    if header.endswith(b"\r\n\r\n"):
        header = header[:-2]
    elif header.endswith(b"\n\n"):
        header = header[:-1]
    starts = [match.start() for match in _FIELD_START.finditer(header)]
    fields = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(header)
        chunk = header[start:end]
        name, colon, _ = chunk.partition(b":")
        if colon:
            fields.append((name.strip().decode("ascii", "replace").lower(), chunk))
    return fields


def select_fields(header: bytes, names: set[str], keep: bool) -> bytes:
    """Return the header fields named in `names` (or all others, if not `keep`), then CRLF."""
    chosen = [raw for name, raw in header_fields(header) if (name in names) == keep]
    return b"".join(chosen) + b"\r\n"


def count_lines(body: bytes) -> int:
    """Return the number of lines in `body`, as BODYSTRUCTURE reports for text."""
    return body.count(b"\n") + (0 if not body or body.endswith(b"\n") else 1)
