"""Header fields of a received message, read defensively: bounded, decoded, one line each."""

import functools
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import EmailPolicy, linesep_splitter  # type: ignore[attr-defined]
from email.utils import parseaddr, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from mailcmd.message.decoding import one_line, repair_surrogates
from mailcmd.message.defects import Defects
from mailcmd.message.plain_fields import plain_mailbox, plain_text

# CPython's header value parser takes time quadratic in the length of some values
# (python/cpython#136063, #87075): one 64 KiB Content-Type costs a minute or more. The
# feed parser reads the MIME headers of every part, so the policy cuts a long
# structured field before parsing it. 1024 characters hold any real MIME header,
# including a 255-byte RFC 2231 file name, and parse in milliseconds whatever they hold.
STRUCTURED_LIMIT = 1024
# Everything else a caller may fetch from the parsed message (To, Cc, Received, ...).
FETCH_LIMIT = 8192
# What the view reads of Subject, References and the rest, which parse in linear time.
VIEW_LIMIT = 16384
# Parsed fields kept for reuse: the same Content-Type or MIME-Version recurs in most
# mail, and a message's Content-Type is read several times while its body is decoded.
# Only short values are kept, so that the cache stays small (a parse tree is many
# times the size of its text) whatever the mail that passes through.
PARSED_CACHE_SIZE = 1024
PARSED_CACHE_VALUE_LIMIT = 256
_STRUCTURED = frozenset(
    {
        "content-type",
        "content-disposition",
        "content-transfer-encoding",
        "content-id",
        "mime-version",
        "from",
        "sender",
        "reply-to",
        "date",
        "message-id",
    }
)

# An unregistered header name parses as unstructured text: encoded-words are decoded
# and nothing else is interpreted.
_UNSTRUCTURED = "X-Unstructured"
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,900}>")
_BARE_ID = re.compile(r"[^<>\s@]{1,500}@[^<>\s@]{1,400}")
_ADDRESS = re.compile(r"[^\s<>]+@[^\s<>@]+")


if TYPE_CHECKING:
    _EmailPolicy = EmailPolicy[EmailMessage]
else:  # the stdlib's policies are generic only in its type stubs
    _EmailPolicy = EmailPolicy


class BoundedPolicy(_EmailPolicy):
    """`email.policy.default`, except that over-long header fields are cut before parsing."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        """Parse a stored header like `policy.default`, reading at most a bounded prefix."""
        if not isinstance(value, str) or hasattr(value, "name"):
            return super().header_fetch_parse(name, value)
        limit = STRUCTURED_LIMIT if name.lower() in _STRUCTURED else FETCH_LIMIT
        value = value[:limit]
        if len(value) > PARSED_CACHE_VALUE_LIMIT:
            return _parsed_field(self.header_factory, name, value)
        return _remembered_field(self.header_factory, name, value)


def _parsed_field(factory: Any, name: str, value: str) -> Any:
    return factory(name, "".join(linesep_splitter.split(value)))


# Parsed header objects are never changed after parsing, so one can serve every
# message that has the same field.
_remembered_field = functools.lru_cache(maxsize=PARSED_CACHE_SIZE)(_parsed_field)


POLICY = BoundedPolicy()


class HeaderFields:
    """The raw header fields of a message, read into decoded one-line values."""

    def __init__(self, message: EmailMessage, defects: Defects) -> None:
        self._defects = defects
        self._fields: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self._fields.setdefault(str(name).strip().lower(), []).append(str(value))

    def raw(self, name: str, limit: int = VIEW_LIMIT) -> str | None:
        """The first `name` field unfolded, 8-bit bytes decoded, cut at `limit` characters."""
        values = self._fields.get(name.lower())
        if not values:
            return None
        if len(values) > 1:
            self._defects.add(name, f"{len(values)} fields; the first is read")
        value = values[0].replace("\r", "").replace("\n", "")
        if len(value) > limit:
            self._defects.add(name, f"{len(value)} characters; the first {limit} are read")
            value = value[:limit]
        repaired = repair_surrogates(value)
        if repaired != value and not _is_utf8(value):
            # UTF-8 in headers is RFC 6532; anything else is a guess.
            self._defects.add(name, "raw 8-bit characters that are not UTF-8")
        return repaired

    def text(self, name: str, limit: int = VIEW_LIMIT) -> str | None:
        """The first `name` field decoded (encoded-words too) as one line; None if absent."""
        value = self.raw(name, limit)
        return None if value is None else self._decoded(name, value)

    def _decoded(self, name: str, value: str) -> str:
        plain = plain_text(value)
        if plain is not None:
            return one_line(plain)
        try:
            header = POLICY.header_factory(_UNSTRUCTURED, value)
            decoded = str(header)
        except Exception as error:  # the stdlib parser has crashed on garbage before
            self._defects.add(name, f"undecodable ({type(error).__name__})")
            return one_line(value)
        self._defects.add_found(name, list(header.defects))
        return one_line(decoded)

    def lower(self, name: str) -> str | None:
        """The first `name` field in lower case; None if absent or blank."""
        return (self.text(name) or "").lower() or None

    def sender(self) -> tuple[str, str | None]:
        """The From field's display name and addr-spec (domain lower-cased).

        The address is None when From is absent or holds no usable address.
        """
        value = self.raw("From", STRUCTURED_LIMIT)
        if not value:
            return "", None
        plain = plain_mailbox(value)
        pairs = [plain] if plain is not None else self._mailboxes(value)
        if len(pairs) > 1:
            self._defects.add("From", f"{len(pairs)} addresses; the first is the sender")
        if not pairs:
            return "", None
        name, address = one_line(pairs[0][0]), one_line(pairs[0][1])
        local, _, domain = address.rpartition("@")
        address = f"{local}@{domain.lower()}"
        return name, address if _ADDRESS.fullmatch(address) and local else None

    def _mailboxes(self, value: str) -> list[tuple[str, str]]:
        """The display names and addr-specs of From `value`, by the header registry."""
        try:
            addresses = POLICY.header_factory("From", value).addresses
            return [(str(a.display_name), str(a.addr_spec)) for a in addresses]
        except Exception as error:  # nested comments overflow the recursive parser
            self._defects.add("From", f"unparseable ({type(error).__name__})")
            # The older parser finds the address; the name is what stands before it.
            name = self._decoded("From", value.rpartition("<")[0]).strip(' "')
            return [(name, address) for _, address in _parseaddr(value)]

    def message_ids(self, name: str) -> tuple[str, ...]:
        """The message ids in field `name`, in order, each with its angle brackets.

        A lone id written without brackets, as a few broken clients do, gets them.
        """
        value = self.text(name) or ""
        found = tuple(_MESSAGE_ID.findall(value))
        if not found and _BARE_ID.fullmatch(value):
            return (f"<{value}>",)
        return found

    def date(self) -> datetime | None:
        """The Date field as an aware datetime; a date without a zone is taken as UTC."""
        value = self.text("Date", 256)
        if not value:
            return None
        try:
            parsed = parsedate_to_datetime(value)
        except Exception:  # ValueError, TypeError, IndexError, OverflowError all occur
            self._defects.add("Date", "unreadable")
            return None
        # RFC 5322 writes "-0000" for "zone unknown", which Python reads as naive.
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parseaddr(value: str) -> list[tuple[str, str]]:
    # The older, more lenient parser; it recurses on nested comments too.
    try:
        return [parseaddr(value)]
    except Exception:
        return []


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return False
    return True
