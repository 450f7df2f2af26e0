"""What the mail store asks of whoever keeps the app folders (`mailcmd.runtime.folder_keeper`).

An app folder's messages show an app's objects. The store keeps them like any
others, but tells the keeper, inside the same transaction, what a client does to
them: flags changed, a message copied or moved, one expunged. The keeper may refuse
(raising `StorageRefusal`, which undoes the whole command) or queue the command the
app maps the action to. The IMAP room defines the contract; the runtime fills it.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from mailcmd.db.models import MailFolder, MailMessage


@dataclass(frozen=True)
class Actor:
    """Who acts on the mail store: the account logged in, from which client address."""

    account_id: int
    client_address: str


class KeptFolders(Protocol):
    """Keeps every account's app folders showing the app's objects, and hears clients."""

    def sync(self, session: Session, account_ids: Iterable[int | None]) -> None:
        """Bring the app folders of `account_ids` up to date in `session`'s transaction."""

    def flags_changed(
        self,
        session: Session,
        actor: Actor,
        folder: MailFolder,
        message: MailMessage,
        before: Sequence[str],
    ) -> None:
        """Hear that `message` of `folder` had `before` and now has `message.flags`."""

    def copying(
        self,
        session: Session,
        actor: Actor,
        source: MailFolder,
        destination: MailFolder,
        message: MailMessage,
        move: bool,
    ) -> bool:
        """Hear that `message` is copied (or moved) from `source` to `destination`;
        return whether the copy still shows the object the message shows."""

    def expunged(
        self, session: Session, actor: Actor, folder: MailFolder, message: MailMessage
    ) -> None:
        """Hear that `message` of `folder` is being expunged."""
