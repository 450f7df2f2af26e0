"""Sequence sets (`1:4,7,9:*`) resolved against a selected mailbox's messages."""

import bisect
from collections.abc import Sequence

from mailcmd.imap.tokens import ImapParseError

MAX_RANGES = 10_000
_UNBOUNDED = -1


def parse_sequence_set(text: str) -> list[tuple[int, int]]:
    """Return the ranges of a sequence set; `*` is -1. Raises `ImapParseError` if malformed."""
    ranges = []
    parts = text.split(",")
    if len(parts) > MAX_RANGES:
        raise ImapParseError("sequence set too long")
    for part in parts:
        low, _, high = part.partition(":")
        first = _number(low)
        ranges.append((first, _number(high) if high else first))
    return ranges


def _number(text: str) -> int:
    if text == "*":
        return _UNBOUNDED
    if not text.isdigit() or len(text) > 10 or int(text) == 0:
        raise ImapParseError(f"not a sequence number: {text[:20]!r}")
    return int(text)


def is_sequence_set(text: str) -> bool:
    """Whether `text` reads as a sequence set (for SEARCH keys)."""
    try:
        parse_sequence_set(text)
    except ImapParseError:
        return False
    return True


def resolve_numbers(ranges: list[tuple[int, int]], count: int) -> list[int]:
    """Return the 0-based positions that message-number `ranges` name, in order.

    Numbers beyond `count` are ignored (`*` is the last message).
    """
    chosen: set[int] = set()
    for first, last in ranges:
        low, high = sorted(count if n == _UNBOUNDED else n for n in (first, last))
        chosen.update(range(max(low, 1) - 1, min(high, count)))
    return sorted(chosen)


def resolve_uids(ranges: list[tuple[int, int]], uids: Sequence[int]) -> list[int]:
    """Return the 0-based positions of the messages whose UIDs `ranges` name.

    `uids` is ascending. `*` is the largest UID, so `n:*` always names the last message.
    """
    if not uids:
        return []
    largest = uids[-1]
    chosen: set[int] = set()
    for first, last in ranges:
        low, high = sorted(largest if n == _UNBOUNDED else n for n in (first, last))
        start = bisect.bisect_left(uids, low)
        stop = bisect.bisect_right(uids, high)
        chosen.update(range(start, stop))
    return sorted(chosen)
