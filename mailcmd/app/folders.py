"""App folders: a view of an app's objects as messages in each account's own mailbox.

An app author declares one with `Mailbox.folder`; the function it decorates takes a
`FolderContext` and returns a `FolderItem` per object, newest first. Declaring only:
what the items become in the mail store is `mailcmd.runtime.folder_views`' job.
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
    does. `changed_at` (aware) is the message's Date; `values`
    are what the folder's template sees.
    """

    key: str
    changed_at: datetime
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AppFolder:
    """A folder declared by a mailbox: its IMAP name, template and the function that fills it."""

    mailbox: str
    name: str
    template: str
    function: Callable[[FolderContext], Iterable[FolderItem]]
    # Where the function is defined, as `file:line function`, for registration errors.
    place: str

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
