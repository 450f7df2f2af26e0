"""IMAP response syntax: strings, lists and flags as the server writes them."""

from collections.abc import Iterable
from datetime import UTC, datetime

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Quoted strings may hold any printable ASCII except the two characters quoted here;
# anything else (8-bit, CR, LF) goes out as a literal.
_QUOTABLE = frozenset(range(0x20, 0x7F))


def string(value: bytes | str) -> bytes:
    """Return `value` as an IMAP string: quoted if it can be, else a literal."""
    data = value.encode("utf-8", errors="surrogateescape") if isinstance(value, str) else value
    if len(data) < 1024 and all(byte in _QUOTABLE for byte in data):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(data)


def literal(data: bytes) -> bytes:
    """Return `data` as a literal: `{size}` CRLF, then the bytes."""
    return b"{%d}\r\n" % len(data) + data


def nstring(value: bytes | str | None) -> bytes:
    """Return `value` as a string, or NIL for None."""
    return b"NIL" if value is None else string(value)


def parenthesised(items: Iterable[bytes]) -> bytes:
    """Return `items` joined by spaces in parentheses."""
    return b"(" + b" ".join(items) + b")"


def flag_list(flags: Iterable[str]) -> bytes:
    """Return flags as a parenthesised list of atoms."""
    return parenthesised(flag.encode() for flag in flags)


def internal_date(moment: datetime) -> bytes:
    """Return a date-time as RFC 3501's `"dd-Mon-yyyy hh:mm:ss +zzzz"`."""
    when = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    months = MONTHS
    text = (
        f"{when.day:2d}-{months[when.month - 1]}-{when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {when.strftime('%z')}"
    )
    return b'"' + text.encode() + b'"'


def mailbox_name(name: str) -> bytes:
    """Return a mailbox name as a string (names are modified UTF-7, so ASCII)."""
    return string(name)
