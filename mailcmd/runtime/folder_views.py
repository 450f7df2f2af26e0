"""App folders kept in step with the app's objects: derived state in the mail store.

Each folder an app declares (`Mailbox.folder`) is a `MailFolder` row marked as the
app's (`kept_by`), one per account; each object it shows is a `MailMessage` that
records the object's key and a digest of its rendering. Syncing renders the
objects the app returns now and compares: an unchanged object keeps its message
(and UID), a changed one gets a new message (a new UID; the old one expunged, its
flags carried over, since IMAP messages never change), a new one is appended, a
gone one expunged. The rendering is all the view holds, so rebuilding a folder
from nothing gives the same messages; UIDs only grow, so UIDVALIDITY stays.
"""

import hashlib
import logging
from collections.abc import Callable, Iterable
from email.utils import format_datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mailcmd.addressing.reply_keys import ReplyKeys
from mailcmd.app.actions import ActionLinks
from mailcmd.app.folders import AppFolder, FolderContext, FolderItem
from mailcmd.app.registry import Registry
from mailcmd.app.rendering import Rendered, Renderer
from mailcmd.db.models import (
    Account,
    AccountAddress,
    InboundMessage,
    MailFolder,
    MailMessage,
)
from mailcmd.db.queue_states import UNFINISHED
from mailcmd.imap.mailstore import announce_change, append, ensure_app_folders
from mailcmd.outbound.composing import compose
from mailcmd.outbound.mails import IN_TRANSCRIPT, links_for

log = logging.getLogger(__name__)


class FolderViews:
    """Keeps every account's app folders showing what the app's objects are now."""

    def __init__(
        self,
        registry: Registry,
        renderer: Renderer,
        keys: Callable[[], ReplyKeys],
        domain: str,
        limit: int,
    ) -> None:
        """Show `registry`'s folders, rendered with `renderer`, their Reply-To signed with
        the keys `keys` returns, from `domain`, at most `limit` objects in each."""
        self._folders = registry.folders
        self._renderer = renderer
        self._keys = keys
        self._domain = domain
        self._limit = limit

    @property
    def declared(self) -> bool:
        """Whether the app declares any folder (with none, syncing does nothing)."""
        return bool(self._folders)

    def sync(self, session: Session, account_ids: Iterable[int | None]) -> None:
        """Bring the app folders of each account in `account_ids` up to date; the caller commits.

        None among them (a sender without an account) is passed over. An object
        with a folder action still unfinished in the queue is left as the client put
        it: its action will change it, and showing it as it was meanwhile would
        flicker. An account whose sync fails (a mistake in the app's folder function
        or template) is logged and left as it was: the view is derived, and the
        commands that ran must not be undone for it; its next sync tries again.
        """
        for account_id in sorted({id for id in account_ids if id is not None}):
            try:
                with session.begin_nested():
                    self._sync_account(session, account_id)
            except Exception:
                log.exception("app folders of account %d not synced", account_id)

    def _sync_account(self, session: Session, account_id: int) -> None:
        """Bring the account's app folders up to date, creating any it lacks."""
        if not self._folders:
            return
        to = account_address(session, account_id)
        if to is None:
            return
        folders = self._app_folders(session, account_id)
        if len(folders) < len(self._folders):
            ensure_app_folders(
                session,
                account_id,
                {f.name: f.mailbox for f in self._folders if f.name not in folders},
            )
            folders = self._app_folders(session, account_id)
        changed = False
        acting_on = objects_acted_on(session, account_id)
        for folder in self._folders:
            row = folders.get(folder.name)
            if row is None or row.kept_by != folder.mailbox:
                # A folder of the account's own by that name (made before the app
                # declared it) stays the account's: nothing is put into it.
                continue
            context = FolderContext(session=session, account_id=account_id, limit=self._limit)
            left = {key for mailbox, key in acting_on if mailbox == folder.mailbox}
            changed |= self._sync_folder(session, folder, row.id, account_id, to, context, left)
        if changed:
            announce_change(session, account_id)

    def _app_folders(self, session: Session, account_id: int) -> dict[str, MailFolder]:
        """The account's folders named as app folders, by name, locked to the end of the
        transaction: two workers syncing one account take turns, so no object is
        shown twice."""
        names = [folder.name for folder in self._folders]
        query = select(MailFolder).where(
            MailFolder.account_id == account_id, MailFolder.name.in_(names)
        )
        return {folder.name: folder for folder in session.scalars(query.with_for_update())}

    def _sync_folder(
        self,
        session: Session,
        folder: AppFolder,
        folder_id: int,
        account_id: int,
        to: str,
        context: FolderContext,
        left: set[str],
    ) -> bool:
        """Sync one folder, but for the objects `left` as they are; return whether any
        message came, went or changed its flags."""
        items = [item for item in folder.items(context) if item.key not in left]
        mapped = folder.actions.mapped_flags()
        shown: dict[str | None, tuple[int, str | None, list[str]]] = {}
        doubles = []
        for message_id, key, digest, flags in session.execute(
            select(
                MailMessage.id, MailMessage.object_key, MailMessage.view_digest, MailMessage.flags
            )
            .where(MailMessage.folder_id == folder_id)
            .order_by(MailMessage.uid)
        ):
            if key in left:
                continue
            if key in shown:
                # Shown twice (or put there before the folder was the app's): the
                # newest stays, the others go.
                doubles.append(shown[key][0])
            shown[key] = (message_id, digest, flags)
        keys = self._keys()
        # A versioned object is rendered only if its message shows another version,
        # or was rendered from another template.
        fingerprint = (
            self._renderer.fingerprint(folder.template)
            if any(item.version is not None for item in items)
            else ""
        )
        wanted: dict[str, tuple[FolderItem, ActionLinks, str, Rendered | None]] = {}
        for item in items:
            links = links_for(
                session,
                keys,
                self._domain,
                mailbox=folder.mailbox,
                tag=item.key,
                to=to,
                account_id=account_id,
            )
            if item.version is not None:
                wanted[item.key] = (item, links, _version_digest(item, links, fingerprint), None)
            else:
                text = self._render(folder, item, links)
                wanted[item.key] = (item, links, _digest(item, links.address, text), text)
        stale = doubles + [
            message_id
            for key, (message_id, digest, _) in shown.items()
            if key is None or key not in wanted or wanted[key][2] != digest
        ]
        if stale:
            session.execute(delete(MailMessage).where(MailMessage.id.in_(stale)))
        # Oldest first, so that the newest object has the highest UID.
        added = reflagged = 0
        for key, (item, links, digest, rendered) in reversed(wanted.items()):
            previous = shown.get(key)
            # The client's own flags stay; the mapped ones say what the object is now.
            flags = shown_flags(previous[2] if previous is not None else [], item, mapped)
            if previous is not None and previous[1] == digest:
                if set(flags) != set(previous[2]):
                    session.execute(
                        update(MailMessage).where(MailMessage.id == previous[0]).values(flags=flags)
                    )
                    reflagged += 1
                continue
            if rendered is None:
                rendered = self._render(folder, item, links)
            composed = compose(
                rendered,
                from_address=f"{folder.mailbox}@{self._domain}",
                to_address=to,
                domain=self._domain,
                subject=rendered.subject or key,
                reply_to=links.address,
                auto_submitted="auto-generated",
                message_id=f"<{folder.mailbox}.{key}.{digest[:16]}@{self._domain}>",
                date=item.changed_at,
            )
            append(
                session,
                account_id,
                folder.name,
                composed.raw,
                flags=flags,
                internal_at=item.changed_at,
                shows=(key, digest),
            )
            added += 1
        if stale or added or reflagged:
            log.info(
                "app folder %s of account %d: %d shown, %d added, %d expunged, %d reflagged",
                folder.name,
                account_id,
                len(wanted),
                added,
                len(stale),
                reflagged,
            )
        return bool(stale or added or reflagged)

    def _render(self, folder: AppFolder, item: FolderItem, links: ActionLinks) -> Rendered:
        """The object's message text, as the folder's template shows it."""
        values = item.values() if callable(item.values) else item.values
        return self._renderer.render(folder.template, {IN_TRANSCRIPT: False, **values}, links)


def account_address(session: Session, account_id: int) -> str | None:
    """The account's address as its app folders' messages name it: its first address,
    else its login; None if there is no such account."""
    address = session.scalar(
        select(AccountAddress.address)
        .where(AccountAddress.account_id == account_id)
        .order_by(AccountAddress.id)
        .limit(1)
    )
    return address or session.scalar(select(Account.login).where(Account.id == account_id))


def shown_flags(stored: Iterable[str], item: FolderItem, mapped: frozenset[str]) -> list[str]:
    """The flags a message showing `item` has: those of `stored` the folder does not
    map (the client's own), and those of the item's that it maps. Mapped flags are
    compared without case, as IMAP compares keywords."""
    own = [flag for flag in stored if flag.lower() not in mapped]
    return sorted({*own, *(flag for flag in item.flags if flag.lower() in mapped)})


def objects_acted_on(session: Session, account_id: int) -> set[tuple[str, str]]:
    """The objects (mailbox, key) with a folder action of the account's still to be
    processed."""
    query = select(InboundMessage.folder_object).where(
        InboundMessage.account_id == account_id,
        InboundMessage.folder_object.is_not(None),
        # By status first: the index on it finds the few unfinished rows, however
        # many the account has had.
        InboundMessage.status.in_(UNFINISHED),
    )
    found = set()
    for folder_object in session.scalars(query):
        mailbox, _, key = (folder_object or "").partition(":")
        found.add((mailbox, key))
    return found


def _version_digest(item: FolderItem, links: ActionLinks, fingerprint: str) -> str:
    """What the message of a versioned object shows, hashed without rendering it: its
    version, Date and Reply-To, and the template's sources."""
    parts = [
        "version",
        item.key,
        item.version or "",
        item.changed_at.isoformat(),
        links.address,
        fingerprint,
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _digest(item: FolderItem, reply_to: str, rendered: Rendered) -> str:
    """What the message shows, hashed: equal digests make equal messages."""
    parts = [
        item.key,
        format_datetime(item.changed_at),
        reply_to,
        rendered.subject or "",
        rendered.text,
        rendered.html or "",
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
