"""LIST and LSUB without I/O: mailbox patterns and the response lines for a set of folders.

A pattern is matched by following every way it can be matched at once (a
position set kept as the bits of one integer), so the work per folder grows with
the name's length and the pattern's, never with the ways wildcards can split a
name: a backtracking regular expression takes minutes over `**...*X`.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from mailcmd.imap.formatting import flag_list, mailbox_name
from mailcmd.imap.mailbox_names import DELIMITER, canonical_name
from mailcmd.imap.mailstore import INBOX

# Bounds on what one LIST may ask: a pattern longer than any name plus its
# wildcards is a mistake or an attack, and each pattern costs a pass over the folders.
MAX_PATTERN_LENGTH = 1024
MAX_PATTERNS = 32


class Folder(Protocol):
    """A folder as LIST shows it (the storage's `FolderInfo`)."""

    @property
    def name(self) -> str:
        """The folder's full name, in modified UTF-7."""

    @property
    def special_use(self) -> str | None:
        """Its RFC 6154 flag, such as `\\Sent`."""

    @property
    def subscribed(self) -> bool:
        """Whether the account subscribes to it."""


class MailboxPattern:
    """A LIST pattern (`*` matches anything, `%` anything but the delimiter).

    INBOX at the start of a name matches in any case, as RFC 3501 asks.
    """

    def __init__(self, text: str) -> None:
        """Prepare `text` (reference and pattern joined) for matching."""
        # The pattern's characters, each a position of the matcher.
        parts: list[str] = []
        for char in canonical_name(text):
            if char in "*%" and parts and parts[-1] in "*%":
                # Adjacent wildcards match what the wider one alone matches.
                parts[-1] = "*" if "*" in (char, parts[-1]) else "%"
            else:
                parts.append(char)
        self._literals: dict[str, int] = {}
        self._any = self._within_level = 0
        for position, part in enumerate(parts):
            bit = 1 << position
            if part == "*":
                self._any |= bit
            elif part == "%":
                self._within_level |= bit
            else:
                self._literals[part] = self._literals.get(part, 0) | bit
        self._wildcards = self._any | self._within_level
        self._accept = 1 << len(parts)

    def _closed(self, states: int) -> int:
        # A wildcard may match nothing; no two wildcards are adjacent, so one step is all.
        return states | ((states & self._wildcards) << 1)

    def matches(self, name: str) -> bool:
        """Whether the pattern matches the whole of `name`."""
        # Stored names spell INBOX in capitals; the pattern may spell it in any case.
        inbox_prefix = len(INBOX) if name.partition(DELIMITER)[0] == INBOX else 0
        states = self._closed(1)
        for index, char in enumerate(name):
            advancing = self._literals.get(char, 0)
            if index < inbox_prefix:
                advancing |= self._literals.get(char.lower(), 0)
            staying = states & self._any
            if char != DELIMITER:
                staying |= states & self._within_level
            states = self._closed(((states & advancing) << 1) | staying)
            if not states:
                return False
        return bool(states & self._accept)


@dataclass(frozen=True)
class ListRequest:
    """What one LIST or LSUB asks for."""

    verb: str
    reference: str
    patterns: Sequence[str]
    options: frozenset[str]


def list_responses(request: ListRequest, folders: Iterable[Folder]) -> list[bytes]:
    """Return the untagged responses for `request` over the account's `folders`."""
    folders = list(folders)
    compiled = [MailboxPattern(request.reference + pattern) for pattern in request.patterns]
    parents = {
        folder.name[:position]
        for folder in folders
        for position, char in enumerate(folder.name)
        if char == DELIMITER
    }
    subscribed_only = request.verb == "LSUB" or "SUBSCRIBED" in request.options
    lines = []
    for folder in folders:
        if subscribed_only and not folder.subscribed:
            continue
        if "SPECIAL-USE" in request.options and folder.special_use is None:
            continue
        if not any(pattern.matches(folder.name) for pattern in compiled):
            continue
        attributes = ["\\HasChildren" if folder.name in parents else "\\HasNoChildren"]
        if folder.special_use is not None:
            attributes.append(folder.special_use)
        if "SUBSCRIBED" in request.options and folder.subscribed:
            attributes.append("\\Subscribed")
        lines.append(
            b'* %s %s "%s" %s'
            % (
                request.verb.encode(),
                flag_list(attributes),
                DELIMITER.encode(),
                mailbox_name(folder.name),
            )
        )
    return lines
