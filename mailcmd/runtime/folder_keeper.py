"""What a person does in an app folder, turned into the app's commands.

A client's flags, moves and deletions in an app folder reach the keeper inside the
mail store's transaction (`mailcmd.imap.kept_folders`). Each that the folder maps
(`FolderActions`) becomes a queued message, from the account to the object's signed
reply address with the command as its subject, committed with the client's change:
the worker runs it exactly once, as it runs mail, under the same policy, and it
shows in `mailcmd queue list` with its trace. What the client did stays as it did
it until the action is processed; then the object's view is synced, which undoes a
refused action in the folder (the refusal is answered by mail). What the folder
does not map is refused at once with `NO [CANNOT]`, or, for other flags, kept as
the client's own.
"""

import email.policy
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime

from sqlalchemy.orm import Session

from mailcmd.addressing.reply_keys import ReplyKeys
from mailcmd.app.folders import AppFolder
from mailcmd.app.registry import Registry
from mailcmd.db.models import InboundMessage, MailFolder, MailMessage
from mailcmd.db.notifier import Channel, announce
from mailcmd.db.types import utc_now
from mailcmd.imap.kept_folders import Actor
from mailcmd.imap.storage import StorageRefusal
from mailcmd.operations.traces import new_trace_id, traced
from mailcmd.outbound.mails import links_for
from mailcmd.runtime.folder_views import FolderViews, account_address

log = logging.getLogger(__name__)

# How the queue tells a folder action from mail: its HELO and AUTH method.
FOLDER_CLIENT = "imap"
# The flag whose setting and clearing a person calls flagging and unflagging.
_FLAGGED = "\\flagged"
_TRASH = "\\Trash"
# Room for the description in `InboundMessage.folder_action`.
_DESCRIPTION_LENGTH = 255


class FolderKeeper:
    """Keeps the app folders (`FolderViews`) and queues the commands clients' actions map to."""

    def __init__(
        self, registry: Registry, views: FolderViews, keys: Callable[[], ReplyKeys], domain: str
    ) -> None:
        """Keep `registry`'s folders with `views`; queued actions go to the objects'
        reply addresses at `domain`, signed with the keys `keys` returns."""
        self._folders = {folder.name: folder for folder in registry.folders}
        self._views = views
        self._keys = keys
        self._domain = domain

    def sync(self, session: Session, account_ids: Iterable[int | None]) -> None:
        """Bring the app folders of `account_ids` up to date (see `FolderViews.sync`)."""
        self._views.sync(session, account_ids)

    def flags_changed(
        self,
        session: Session,
        actor: Actor,
        folder: MailFolder,
        message: MailMessage,
        before: Sequence[str],
    ) -> None:
        """Queue the commands the folder maps to the flags set and cleared on `message`;
        refuse `\\Deleted` where deleting runs nothing."""
        declared = self._declared(folder)
        if declared is None or message.object_key is None:
            return
        had = {flag.lower() for flag in before}
        has = {flag.lower() for flag in message.flags}
        if "\\deleted" in has - had and declared.actions.delete is None:
            raise StorageRefusal(
                f"{declared.name} shows the {declared.mailbox} app's objects,"
                " and deleting one here does nothing",
                "CANNOT",
            )
        shown = f"{_subject(message)} in {declared.name}"
        for flag, (when_set, when_cleared) in declared.actions.flags.items():
            key = flag.lower()
            if key in has - had and when_set is not None:
                done = "flagged" if key == _FLAGGED else f"set {flag} on"
                self._queue(session, actor, declared, message, when_set, f"{done} {shown}")
            elif key in had - has and when_cleared is not None:
                done = "unflagged" if key == _FLAGGED else f"cleared {flag} on"
                self._queue(session, actor, declared, message, when_cleared, f"{done} {shown}")

    def copying(
        self,
        session: Session,
        actor: Actor,
        source: MailFolder,
        destination: MailFolder,
        message: MailMessage,
        move: bool,
    ) -> bool:
        """Queue the arrival command of a move between the folders of one mailbox, or
        the deletion of a move to Trash; refuse any other way into or out of an app
        folder but a copy out (the person's own copy). Return whether the copy still
        shows the object."""
        origin, target = self._declared(source), self._declared(destination)
        if target is not None:
            if origin is None or origin.mailbox != target.mailbox or message.object_key is None:
                siblings = _siblings(self._folders, target)
                only = f"only its own messages move into it, from {siblings}"
                raise StorageRefusal(
                    f"{target.name} shows the {target.mailbox} app's objects: "
                    + (only if siblings else "nothing moves into it"),
                    "CANNOT",
                )
            if target.actions.arrival is None:
                raise StorageRefusal(f"{target.name} takes no messages moved in", "CANNOT")
            done = f"moved {_subject(message)} from {origin.name} to {target.name}"
            self._queue(session, actor, target, message, target.actions.arrival, done)
            return True
        if destination.kept_by is not None:
            raise StorageRefusal(
                f"{destination.name} is kept by the {destination.kept_by} app", "CANNOT"
            )
        if origin is None or message.object_key is None or not move:
            # A copy out of an app folder is the person's own, as any copy is.
            return False
        if destination.special_use == _TRASH and origin.actions.delete is not None:
            done = f"deleted {_subject(message)} from {origin.name}"
            self._queue(session, actor, origin, message, origin.actions.delete, done)
            return False
        places = [_siblings(self._folders, origin)]
        if origin.actions.delete is not None:
            places.append("Trash")
        ways = " or to ".join(place for place in places if place)
        moves = f"moves only to {ways}" if ways else "stays in it"
        raise StorageRefusal(
            f"a message of {origin.name} {moves}; copy it to keep it elsewhere", "CANNOT"
        )

    def expunged(
        self, session: Session, actor: Actor, folder: MailFolder, message: MailMessage
    ) -> None:
        """Queue the folder's deletion command for the object `message` shows."""
        declared = self._declared(folder)
        if declared is None or message.object_key is None or declared.actions.delete is None:
            # Nothing runs: the object is still there, and the next sync shows it again.
            return
        done = f"deleted {_subject(message)} from {declared.name}"
        self._queue(session, actor, declared, message, declared.actions.delete, done)

    def _declared(self, folder: MailFolder) -> AppFolder | None:
        """The declaration `folder` is kept for, if the app still declares it."""
        declared = self._folders.get(folder.name)
        if declared is None or folder.kept_by != declared.mailbox:
            return None
        return declared

    def _queue(
        self,
        session: Session,
        actor: Actor,
        folder: AppFolder,
        message: MailMessage,
        command: str,
        done: str,
    ) -> None:
        """Queue `command` for the object `message` shows, as `actor`'s mail to it;
        `done` says in words what the person did."""
        key = message.object_key or ""
        address = account_address(session, actor.account_id)
        if address is None:
            return
        to = links_for(
            session,
            self._keys(),
            self._domain,
            mailbox=folder.mailbox,
            tag=key,
            to=address,
            account_id=actor.account_id,
        ).address
        description = done[:_DESCRIPTION_LENGTH]
        trace_id = new_trace_id()
        raw = _command_mail(address, to, command, self._domain)
        session.add(
            InboundMessage(
                raw=raw,
                mail_from=address,
                rcpt_tos=[to],
                account_id=actor.account_id,
                client_address=actor.client_address or FOLDER_CLIENT,
                helo=FOLDER_CLIENT,
                auth_method=FOLDER_CLIENT,
                size=len(raw),
                trace_id=trace_id,
                folder_action=description,
                folder_object=f"{folder.mailbox}:{key}",
            )
        )
        announce(session, Channel.NEW_MAIL)
        with traced(trace_id):
            log.info("folder action queued: %s runs %r", description, command)


def _command_mail(sender: str, to: str, command: str, domain: str) -> bytes:
    """The mail a person would write to run `command`: from `sender` to `to`, the
    command as its subject, nothing else."""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = command
    mail["Date"] = format_datetime(utc_now())
    mail["Message-ID"] = f"<folder-action.{secrets.token_hex(12)}@{domain}>"
    mail.set_content("")
    return mail.as_bytes()


def _subject(message: MailMessage) -> str:
    """The Subject the person sees on `message`, in quotes."""
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(message.raw)
    return '"' + str(headers.get("Subject", "")).strip() + '"'


def _siblings(folders: dict[str, AppFolder], folder: AppFolder) -> str:
    """The other folders of `folder`'s mailbox, for a refusal ('' if none)."""
    names = [name for name, other in folders.items() if other.mailbox == folder.mailbox]
    return " or ".join(name for name in names if name != folder.name)
