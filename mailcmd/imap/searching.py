"""SEARCH criteria: parsed from the command into a predicate over messages."""

import email
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from functools import cached_property

from mailcmd.imap.fetch_items import MessageData
from mailcmd.imap.formatting import MONTHS
from mailcmd.imap.mime import split_header
from mailcmd.imap.sequences import (
    is_sequence_set,
    parse_sequence_set,
    resolve_numbers,
    resolve_uids,
)
from mailcmd.imap.tokens import ImapParseError, Token, astring

CHARSETS = ("UTF-8", "US-ASCII")
_MONTHS = {name.upper(): number for number, name in enumerate(MONTHS, 1)}
_DATE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})")
_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}
_HEADER_KEYS = {"BCC": "bcc", "CC": "cc", "FROM": "from", "SUBJECT": "subject", "TO": "to"}
MAX_DEPTH = 32


# Outside the MailcmdError family: a signal, which SEARCH answers with BADCHARSET.
class CharsetError(Exception):
    """The SEARCH names a charset the server does not search in."""


@dataclass
class Candidate:
    """One message as SEARCH sees it: its number, stored data and whether it is \\Recent."""

    number: int
    data: MessageData
    recent: bool

    @cached_property
    def parsed(self) -> EmailMessage:
        """The message parsed by the stdlib (only for keys that read the content)."""
        message = email.message_from_bytes(self.data.raw or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def header_text(self, name: str) -> str:
        """The decoded, folded-together values of header `name`, case-folded."""
        values = []
        header = email.message_from_bytes(
            split_header(self.data.raw or b"")[0], policy=policy.compat32
        )
        for value in header.get_all(name) or []:
            try:
                values.append(str(make_header(decode_header(str(value)))))
            except (ValueError, LookupError):
                values.append(str(value))
        return " ".join(values).casefold()

    def body_text(self) -> str:
        """The text of the body: decoded text parts, else the raw body."""
        texts = []
        try:
            for part in self.parsed.walk():
                if part.get_content_maintype() == "text" and isinstance(part, EmailMessage):
                    texts.append(str(part.get_content()))
        except (LookupError, ValueError, AssertionError):
            texts = []
        if not texts:
            texts.append(split_header(self.data.raw or b"")[1].decode("utf-8", "replace"))
        return "\n".join(texts).casefold()


Predicate = Callable[[Candidate], bool]


@dataclass
class Query:
    """A parsed SEARCH: its predicate, and whether evaluating it needs message bytes."""

    predicate: Predicate
    needs_raw: bool = False
    # Filled in before evaluation: the mailbox's UIDs, ascending, to resolve sets.
    uids: list[int] = field(default_factory=list)


def parse_search(tokens: list[Token]) -> Query:
    """Parse SEARCH arguments (CHARSET first, if given) into a `Query`.

    Raises `ImapParseError` for bad syntax and `CharsetError` for an unknown charset.
    """
    if tokens and isinstance(tokens[0], str) and tokens[0].upper() == "CHARSET":
        if len(tokens) < 2 or astring(tokens[1]).upper() not in CHARSETS:
            raise CharsetError
        tokens = tokens[2:]
    if not tokens:
        raise ImapParseError("SEARCH needs criteria")
    query = Query(predicate=lambda _: True)
    stream = iter(tokens)
    keys = []
    for token in stream:
        keys.append(_key(token, stream, query, 0))
    query.predicate = _all(keys)
    return query


def _all(keys: list[Predicate]) -> Predicate:
    return lambda candidate: all(key(candidate) for key in keys)


def _next(stream: Iterator[Token], key: str) -> Token:
    try:
        return next(stream)
    except StopIteration:
        raise ImapParseError(f"{key} needs an argument") from None


def _key(token: Token, stream: Iterator[Token], query: Query, depth: int) -> Predicate:
    if depth > MAX_DEPTH:
        raise ImapParseError("search criteria nested too deeply")
    if isinstance(token, list):
        inner = iter(token)
        keys = [_key(item, inner, query, depth + 1) for item in inner]
        if not keys:
            raise ImapParseError("empty parenthesised criteria")
        return _all(keys)
    if isinstance(token, bytes):
        raise ImapParseError("a search key must be an atom")
    word = token.upper()
    if word == "ALL":
        return lambda _: True
    if word in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[word]
        return lambda c: (flag in c.data.flags) == present
    if word == "RECENT":
        return lambda c: c.recent
    if word == "OLD":
        return lambda c: not c.recent
    if word == "NEW":
        return lambda c: c.recent and "\\Seen" not in c.data.flags
    if word in ("KEYWORD", "UNKEYWORD"):
        keyword = astring(_next(stream, word)).lower()
        present = word == "KEYWORD"
        return lambda c: any(f.lower() == keyword for f in c.data.flags) == present
    if word in _HEADER_KEYS:
        return _header_key(_HEADER_KEYS[word], astring(_next(stream, word)), query)
    if word == "HEADER":
        name = astring(_next(stream, word)).lower()
        return _header_key(name, astring(_next(stream, word)), query)
    if word in ("BODY", "TEXT"):
        needle = astring(_next(stream, word)).casefold()
        query.needs_raw = True
        if word == "BODY":
            return lambda c: needle in c.body_text()
        return lambda c: needle in c.body_text() or needle in _all_headers(c)
    if word in ("BEFORE", "ON", "SINCE"):
        day = parse_date(astring(_next(stream, word)))
        return _date_key(word, day, lambda c: c.data.internal_at.astimezone(UTC).date())
    if word in ("SENTBEFORE", "SENTON", "SENTSINCE"):
        day = parse_date(astring(_next(stream, word)))
        query.needs_raw = True
        return _date_key(word[4:], day, _sent_date)
    if word in ("LARGER", "SMALLER"):
        size = _number(astring(_next(stream, word)))
        if word == "LARGER":
            return lambda c: c.data.size > size
        return lambda c: c.data.size < size
    if word == "UID":
        ranges = parse_sequence_set(astring(_next(stream, word)))
        return _uid_key(ranges, query)
    if word == "NOT":
        inner_key = _key(_next(stream, word), stream, query, depth + 1)
        return lambda c: not inner_key(c)
    if word == "OR":
        left = _key(_next(stream, word), stream, query, depth + 1)
        right = _key(_next(stream, word), stream, query, depth + 1)
        return lambda c: left(c) or right(c)
    if is_sequence_set(token):
        ranges = parse_sequence_set(token)
        return _number_key(ranges, query)
    raise ImapParseError(f"unknown search key {token[:30]}")


def _header_key(name: str, needle: str, query: Query) -> Predicate:
    query.needs_raw = True
    folded = needle.casefold()
    if not folded:
        return lambda c: name in {key.lower() for key in c.parsed}
    return lambda c: folded in c.header_text(name)


def _all_headers(candidate: Candidate) -> str:
    return split_header(candidate.data.raw or b"")[0].decode("utf-8", "replace").casefold()


def _date_key(word: str, day: date, moment: Callable[[Candidate], date | None]) -> Predicate:
    def matches(candidate: Candidate) -> bool:
        found = moment(candidate)
        if found is None:
            return False
        if word == "BEFORE":
            return found < day
        if word == "ON":
            return found == day
        return found >= day

    return matches


def _sent_date(candidate: Candidate) -> date | None:
    value = candidate.parsed.get("date")
    if value is None:
        return None
    try:
        return parsedate_to_datetime(str(value)).date()
    except (TypeError, ValueError):
        return None


def _uid_key(ranges: list[tuple[int, int]], query: Query) -> Predicate:
    chosen: set[int] | None = None

    def matches(candidate: Candidate) -> bool:
        nonlocal chosen
        if chosen is None:
            chosen = {query.uids[i] for i in resolve_uids(ranges, query.uids)}
        return candidate.data.uid in chosen

    return matches


def _number_key(ranges: list[tuple[int, int]], query: Query) -> Predicate:
    chosen: set[int] | None = None

    def matches(candidate: Candidate) -> bool:
        nonlocal chosen
        if chosen is None:
            chosen = {i + 1 for i in resolve_numbers(ranges, len(query.uids))}
        return candidate.number in chosen

    return matches


def parse_date(text: str) -> date:
    """Return an IMAP date (`1-Feb-2026`); raises `ImapParseError` if it is not one."""
    match = _DATE.fullmatch(text.strip())
    if match is None or match.group(2).upper() not in _MONTHS:
        raise ImapParseError(f"not a date: {text[:30]!r}")
    try:
        return date(int(match.group(3)), _MONTHS[match.group(2).upper()], int(match.group(1)))
    except ValueError:
        raise ImapParseError(f"not a date: {text[:30]!r}") from None


def parse_date_time(text: str) -> datetime:
    """Return an IMAP date-time (`"1-Feb-2026 10:00:00 +0100"`); raises `ImapParseError`."""
    try:
        return datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        raise ImapParseError(f"not a date-time: {text[:40]!r}") from None


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise ImapParseError(f"not a number: {text[:20]!r}")
    return int(text)


def evaluate(query: Query, candidates: list[Candidate]) -> list[Candidate]:
    """Return the candidates that match."""
    return [candidate for candidate in candidates if query.predicate(candidate)]
