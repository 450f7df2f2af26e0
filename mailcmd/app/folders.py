"""App folders: a view of an app's objects as messages in each account's own mailbox.

An app author declares one with `Mailbox.folder`; the function it decorates takes a
`FolderContext` and returns a `FolderItem` per object, newest first. The declaration
also says which of the mailbox's commands a person's flags and moves in the folder
run (`FolderActions`). Declaring only: what the items become in the mail store is
`mailcmd.runtime.folder_views`' job, what a client does to them
`mailcmd.runtime.folder_actions`'.
"""

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class FolderContext:
    """Whose folder is being shown, the transaction to read the objects in, and how many at most.

    The function should return at most `limit` items, newest first; any beyond
    `limit` are not shown.
    """

    session: Session
    account_id: int
    limit: int


@dataclass(frozen=True)
class FolderItem:
    """One object as a folder shows it: one message.

    `key` names the object (a task's number; at most 64 characters, those a
    plus-tag may have): it is the plus-tag of the message's signed Reply-To, so
    answering the message continues the object as an answer to any of its mails
    does. `changed_at` (aware) is the message's Date; `values` are what the
    folder's template sees, or a function that returns them, called only when the
    object is rendered (with `version`, loading each object whole is then paid only
    for those that changed). `flags` are those of the folder's mapped
    flags (`FolderActions.flags`) that the object has now (`\\Flagged` for a task of
    high priority): the message shows exactly these of them, whatever a client set.
    `version`, when given, must change whenever anything the template shows of the
    object changes (a revision number the app bumps on each change): an object whose
    version, Date and Reply-To are those of its message, rendered from the same
    template, is not rendered again. Without it, each sync renders every object and
    compares the results, which costs most of a command with hundreds of objects.
    """

    key: str
    changed_at: datetime
    values: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    version: str | None = None


@dataclass(frozen=True)
class FolderActions:
    """What a person's flags and moves in a folder do: command lines of its mailbox.

    Each command line (`edit --priority high`) runs for the object the message
    shows, as if the person had mailed it in answer to that message, through the
    same queue, worker and policy. `flags` maps a flag (`\\Flagged`, or a keyword
    such as `$Done`) to the commands for its being set and cleared (None: nothing);
    `arrival` runs when a message is moved here from another folder of the mailbox;
    `delete` when one is deleted (expunged, or moved to Trash). A flag not mapped is
    the client's own; a move or deletion with no command is refused.
    """

    flags: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    arrival: str | None = None
    delete: str | None = None

    def mapped_flags(self) -> frozenset[str]:
        """The mapped flags, in lower case: IMAP compares keywords without case."""
        return frozenset(flag.lower() for flag in self.flags)

    def commands(self) -> list[str]:
        """Every command line the folder may run."""
        lines = [*(line for pair in self.flags.values() for line in pair), self.arrival]
        return [line for line in [*lines, self.delete] if line is not None]


@dataclass(frozen=True)
class AppFolder:
    """A folder declared by a mailbox: its IMAP name, template and the function that fills it."""

    mailbox: str
    name: str
    template: str
    function: Callable[[FolderContext], Iterable[FolderItem]]
    # Where the function is defined, as `file:line function`, for registration errors.
    place: str
    actions: FolderActions = field(default_factory=FolderActions)

    def items(self, context: FolderContext) -> list[FolderItem]:
        """The items the function returns for `context`, at most `context.limit` of them."""
        items: list[FolderItem] = []
        for item in self.function(context):
            if len(items) == context.limit:
                break
            items.append(item)
        return items


def takes_folder_context(function: Callable[..., Any]) -> bool:
    """Whether `function` takes exactly one parameter, a `FolderContext`."""
    parameters = list(inspect.signature(function).parameters.values())
    return len(parameters) == 1 and parameters[0].annotation in (FolderContext, "FolderContext")


# The system flags a folder may map: \Deleted is deletion (`FolderActions.delete`),
# \Recent is the server's.
_MAPPABLE_SYSTEM_FLAGS = {"\\flagged", "\\seen", "\\answered", "\\draft"}
# What an IMAP keyword may not hold (RFC 3501's atom-specials and flag syntax).
_NOT_IN_KEYWORD = set('(){%*"]\\ ')


def mapped_flag_problem(flag: str) -> str | None:
    """Why `flag` cannot be mapped to commands, or None if it can.

    It must be one of \\\\Flagged, \\\\Seen, \\\\Answered, \\\\Draft, or a keyword
    (`$Done`) of at most 64 printable characters.
    """
    if flag.startswith("\\"):
        if flag.lower() in _MAPPABLE_SYSTEM_FLAGS:
            return None
        return "the system flags a folder may map are \\Flagged, \\Seen, \\Answered and \\Draft"
    if not flag or len(flag) > 64:
        return "a keyword has 1 to 64 characters"
    if any(c in _NOT_IN_KEYWORD or not c.isprintable() or not c.isascii() for c in flag):
        return 'a keyword has no spaces and none of ( ) { % * " ] \\'
    return None
