"""The mailbox server's storage: folders and messages of one account, over SQLAlchemy.

Every function is synchronous and runs in a thread; each is one transaction. Writes
announce the change (`mailstore.announce_change`) so that sessions in other
processes look again.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mailcmd.db.database import Database
from mailcmd.db.models import MailFolder, MailMessage
from mailcmd.errors import MailcmdError
from mailcmd.imap import mailstore
from mailcmd.imap.fetch_items import MessageData
from mailcmd.imap.kept_folders import Actor, KeptFolders
from mailcmd.imap.mailbox_names import DELIMITER, canonical_name, name_problem

SYSTEM_FLAGS = {
    flag.lower(): flag for flag in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
}
MAX_FLAGS = 64
MAX_FLAG_LENGTH = 64


class StorageRefusal(MailcmdError):
    """A mailbox operation the account may not do; `code` is an IMAP response code."""

    def __init__(self, text: str, code: str = "") -> None:
        """Refuse with `text` (for the client) and an optional response code."""
        super().__init__(text)
        self.code = code


@dataclass(frozen=True)
class FolderInfo:
    """A folder as LIST shows it."""

    name: str
    special_use: str | None
    subscribed: bool


@dataclass(frozen=True)
class FolderState:
    """A folder's identity and counts, for SELECT and STATUS."""

    id: int
    name: str
    uid_validity: int
    uid_next: int
    messages: int
    unseen: int


@dataclass(frozen=True)
class Snapshot:
    """The messages of a folder as UIDs (ascending) and their flags, at one moment."""

    uids: list[int]
    flags: dict[int, tuple[str, ...]]
    uid_next: int


def normal_flags(flags: Iterable[str]) -> tuple[str, ...]:
    """Return storable flags: system flags in their canonical case, no \\Recent, sorted."""
    found = set()
    for flag in flags:
        if flag.lower() == "\\recent":
            continue
        found.add(SYSTEM_FLAGS.get(flag.lower(), flag))
    return tuple(sorted(found))


def ensure_folders(database: Database, account_id: int) -> None:
    """Create the account's default folders if any is missing."""
    with database.sessions() as session:
        names = set(
            session.scalars(select(MailFolder.name).where(MailFolder.account_id == account_id))
        )
    if set(mailstore.DEFAULT_FOLDERS) <= names:
        return
    with database.writing() as session, session.begin():
        mailstore.ensure_default_folders(session, account_id)


def sync_app_folders(database: Database, account_id: int, kept: KeptFolders) -> None:
    """Bring the account's app folders up to date, in a transaction of its own."""
    with database.writing() as session, session.begin():
        kept.sync(session, [account_id])


def list_folders(database: Database, account_id: int) -> list[FolderInfo]:
    """Return every folder of the account, by name."""
    with database.sessions() as session:
        rows = session.execute(
            select(MailFolder.name, MailFolder.special_use, MailFolder.subscribed)
            .where(MailFolder.account_id == account_id)
            .order_by(MailFolder.name)
        ).all()
    return [FolderInfo(name, special_use, subscribed) for name, special_use, subscribed in rows]


def _folder(session: Session, account_id: int, name: str, lock: bool = False) -> MailFolder:
    query = select(MailFolder).where(
        MailFolder.account_id == account_id, MailFolder.name == canonical_name(name)
    )
    folder = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if folder is None:
        raise StorageRefusal("no such mailbox", "NONEXISTENT")
    return folder


def _refuse_kept(folder: MailFolder) -> None:
    # An app folder shows the app's objects and nothing else: mail put there, or the
    # folder renamed or deleted, would be undone by the next sync.
    if folder.kept_by is not None:
        raise StorageRefusal(f"{folder.name} is kept by the {folder.kept_by} app", "CANNOT")


def _destination(session: Session, account_id: int, name: str, lock: bool = False) -> MailFolder:
    # Mail put into a folder that does not exist tells the client it may create it
    # and try again (RFC 3501 APPEND and COPY).
    try:
        return _folder(session, account_id, name, lock)
    except StorageRefusal:
        raise StorageRefusal("No such mailbox", "TRYCREATE") from None


def create_folder(database: Database, account_id: int, name: str, max_folders: int) -> None:
    """Create folder `name` and any missing parents; refuses an existing name.

    An account holds at most `max_folders` folders, parents included: more is
    refused with LIMIT, so that no account can make LIST slow for its own clients.
    """
    name = canonical_name(name.rstrip(DELIMITER))
    problem = name_problem(name)
    if problem is not None:
        raise StorageRefusal(problem, "CANNOT")
    with database.writing() as session, session.begin():
        existing = set(
            session.scalars(select(MailFolder.name).where(MailFolder.account_id == account_id))
        )
        if name in existing:
            raise StorageRefusal("mailbox exists", "ALREADYEXISTS")
        parts = name.split(DELIMITER)
        paths = [DELIMITER.join(parts[:depth]) for depth in range(1, len(parts) + 1)]
        missing = [path for path in paths if path not in existing]
        if len(existing) + len(missing) > max_folders:
            raise StorageRefusal(f"an account has at most {max_folders} mailboxes", "LIMIT")
        for path in missing:
            session.add(
                MailFolder(
                    account_id=account_id,
                    name=path,
                    uid_validity=mailstore.new_uid_validity(),
                    uid_next=1,
                )
            )


def delete_folder(database: Database, account_id: int, name: str) -> None:
    """Delete a folder and its messages; default folders cannot be deleted."""
    name = canonical_name(name)
    if name in mailstore.DEFAULT_FOLDERS:
        raise StorageRefusal("the default folders cannot be deleted", "CANNOT")
    with database.writing() as session, session.begin():
        folder = _folder(session, account_id, name)
        _refuse_kept(folder)
        session.execute(delete(MailMessage).where(MailMessage.folder_id == folder.id))
        session.delete(folder)
        mailstore.announce_change(session, account_id)


def rename_folder(database: Database, account_id: int, old: str, new: str) -> None:
    """Rename a folder and the folders below it; default folders keep their names."""
    old, new = canonical_name(old), canonical_name(new.rstrip(DELIMITER))
    if old in mailstore.DEFAULT_FOLDERS:
        raise StorageRefusal("the default folders cannot be renamed", "CANNOT")
    problem = name_problem(new)
    if problem is not None:
        raise StorageRefusal(problem, "CANNOT")
    with database.writing() as session, session.begin():
        folders = session.scalars(
            select(MailFolder).where(MailFolder.account_id == account_id)
        ).all()
        by_name = {folder.name: folder for folder in folders}
        if old not in by_name:
            raise StorageRefusal("no such mailbox", "NONEXISTENT")
        if new in by_name:
            raise StorageRefusal("mailbox exists", "ALREADYEXISTS")
        moving = [
            folder
            for folder in folders
            if folder.name == old or folder.name.startswith(old + DELIMITER)
        ]
        for folder in moving:
            _refuse_kept(folder)
        for folder in moving:
            folder.name = new + folder.name[len(old) :]
        mailstore.announce_change(session, account_id)


def set_subscribed(database: Database, account_id: int, name: str, subscribed: bool) -> None:
    """Subscribe to or unsubscribe from a folder."""
    with database.writing() as session, session.begin():
        _folder(session, account_id, name).subscribed = subscribed


def folder_state(database: Database, account_id: int, name: str) -> FolderState:
    """Return a folder's UIDVALIDITY, UIDNEXT and counts."""
    with database.sessions() as session:
        folder = _folder(session, account_id, name)
        flags = session.scalars(
            select(MailMessage.flags).where(MailMessage.folder_id == folder.id)
        ).all()
        unseen = sum(1 for stored in flags if "\\Seen" not in stored)
        return FolderState(
            folder.id, folder.name, folder.uid_validity, folder.uid_next, len(flags), unseen
        )


def snapshot(database: Database, folder_id: int) -> Snapshot:
    """Return the folder's UIDs and flags now (empty if the folder was deleted)."""
    with database.sessions() as session:
        uid_next = session.scalar(select(MailFolder.uid_next).where(MailFolder.id == folder_id))
        rows = session.execute(
            select(MailMessage.uid, MailMessage.flags)
            .where(MailMessage.folder_id == folder_id)
            .order_by(MailMessage.uid)
        ).all()
    return Snapshot(
        uids=[uid for uid, _ in rows],
        flags={uid: tuple(flags) for uid, flags in rows},
        uid_next=uid_next or 1,
    )


def load_messages(
    database: Database, folder_id: int, uids: Sequence[int], with_raw: bool
) -> dict[int, MessageData]:
    """Return the messages with `uids` that still exist, with their bytes if `with_raw`."""
    found: dict[int, MessageData] = {}
    with database.sessions() as session:
        for chunk in _chunks(uids):
            where = (MailMessage.folder_id == folder_id, MailMessage.uid.in_(chunk))
            if with_raw:
                for message in session.scalars(select(MailMessage).where(*where)):
                    found[message.uid] = MessageData(
                        message.uid,
                        tuple(message.flags),
                        message.internal_at,
                        message.size,
                        message.raw,
                    )
                continue
            rows = session.execute(
                select(
                    MailMessage.uid, MailMessage.flags, MailMessage.internal_at, MailMessage.size
                ).where(*where)
            )
            for uid, flags, internal_at, size in rows:
                found[uid] = MessageData(uid, tuple(flags), internal_at, size)
    return found


def change_flags(
    database: Database,
    account_id: int,
    folder_id: int,
    uids: Sequence[int],
    mode: Literal["add", "remove", "replace"],
    flags: Iterable[str],
    kept: KeptFolders | None = None,
    client: str = "",
) -> dict[int, tuple[str, ...]]:
    """Add, remove or replace flags of the messages `uids`; return their new flags.

    In an app folder, `kept` hears of each change, from `client`, and may refuse it.
    """
    given = set(normal_flags(flags))
    changed: dict[int, tuple[str, ...]] = {}
    with database.writing() as session, session.begin():
        folder = _kept_folder(session, folder_id, kept)
        for chunk in _chunks(uids):
            query = select(MailMessage).where(
                MailMessage.folder_id == folder_id, MailMessage.uid.in_(chunk)
            )
            if folder is not None:
                # Two clients changing one object's flags at once: one after the
                # other, so that each action is decided on the flags the other left.
                query = query.with_for_update()
            for message in session.scalars(query):
                current = set(message.flags)
                if mode == "add":
                    new = current | given
                elif mode == "remove":
                    new = current - given
                else:
                    new = set(given)
                if len(new) > MAX_FLAGS:
                    raise StorageRefusal("too many flags on one message", "LIMIT")
                if new != current:
                    before = message.flags
                    message.flags = sorted(new)
                    if folder is not None and kept is not None:
                        kept.flags_changed(
                            session, Actor(account_id, client), folder, message, before
                        )
                changed[message.uid] = tuple(sorted(new))
        mailstore.announce_change(session, account_id)
    return changed


def _kept_folder(session: Session, folder_id: int, kept: KeptFolders | None) -> MailFolder | None:
    """The folder `folder_id` if it is an app folder and someone keeps it, else None."""
    if kept is None:
        return None
    folder = session.get(MailFolder, folder_id)
    return folder if folder is not None and folder.kept_by is not None else None


def expunge(
    database: Database,
    account_id: int,
    folder_id: int,
    uids: Sequence[int] | None = None,
    kept: KeptFolders | None = None,
    client: str = "",
) -> list[int]:
    """Delete the folder's \\Deleted messages (only among `uids`, if given); return their UIDs.

    In an app folder, `kept` hears of each, from `client`.
    """
    with database.writing() as session, session.begin():
        folder = _kept_folder(session, folder_id, kept)
        query = select(MailMessage.uid, MailMessage.flags).where(MailMessage.folder_id == folder_id)
        if folder is not None:
            # Two clients expunging one object's message at once: one deletion asked.
            query = query.with_for_update()
        candidates = [uid for uid, flags in session.execute(query) if "\\Deleted" in flags]
        if uids is not None:
            allowed = set(uids)
            candidates = [uid for uid in candidates if uid in allowed]
        if folder is not None and kept is not None:
            for chunk in _chunks(candidates):
                for message in session.scalars(
                    select(MailMessage).where(
                        MailMessage.folder_id == folder_id, MailMessage.uid.in_(chunk)
                    )
                ):
                    kept.expunged(session, Actor(account_id, client), folder, message)
        for chunk in _chunks(candidates):
            session.execute(
                delete(MailMessage).where(
                    MailMessage.folder_id == folder_id, MailMessage.uid.in_(chunk)
                )
            )
        if candidates:
            mailstore.announce_change(session, account_id)
    return sorted(candidates)


def copy_messages(
    database: Database,
    account_id: int,
    folder_id: int,
    uids: Sequence[int],
    target: str,
    move: bool,
    quota: int | None,
    kept: KeptFolders | None = None,
    client: str = "",
) -> tuple[int, list[tuple[int, int]]]:
    """Copy (or move) messages to the folder `target`; return its UIDVALIDITY and UID pairs.

    To, from or between app folders, `kept` hears of each message, from `client`,
    and may refuse; without it, nothing goes into an app folder.
    """
    with database.writing() as session, session.begin():
        # The destination's row before the messages', in the order a sync of the app
        # folders takes them: a move and a sync never wait for each other in a circle.
        destination = _destination(session, account_id, target, lock=True)
        if destination.id == folder_id and move:
            raise StorageRefusal("source and destination are the same mailbox", "CANNOT")
        source = session.get(MailFolder, folder_id)
        if source is None or (destination.kept_by is None and source.kept_by is None):
            kept = None
        elif kept is None:
            _refuse_kept(destination)
        messages: list[MailMessage] = []
        for chunk in _chunks(uids):
            query = select(MailMessage).where(
                MailMessage.folder_id == folder_id, MailMessage.uid.in_(chunk)
            )
            if move:
                # Two clients moving one message at once: the second finds it gone,
                # so it lands in one place, and an app folder's action runs once.
                query = query.with_for_update()
            messages += session.scalars(query).all()
        messages.sort(key=lambda message: message.uid)
        if quota is not None and not move:
            _check_quota(session, account_id, sum(m.size for m in messages), quota)
        pairs = []
        for message in messages:
            shows = None
            if (
                kept is not None
                and source is not None
                and kept.copying(
                    session, Actor(account_id, client), source, destination, message, move
                )
            ):
                shows = (message.object_key or "", message.view_digest or "")
            copied = mailstore.append(
                session,
                account_id,
                destination.name,
                message.raw,
                flags=message.flags,
                internal_at=message.internal_at,
                shows=shows,
            )
            pairs.append((message.uid, copied))
            if move:
                session.delete(message)
        mailstore.announce_change(session, account_id)
        return destination.uid_validity, pairs


def append_message(
    database: Database,
    account_id: int,
    name: str,
    raw: bytes,
    flags: Iterable[str],
    internal_at: datetime | None,
    quota: int | None,
) -> tuple[int, int]:
    """Store `raw` in folder `name`; return its UIDVALIDITY and the new UID."""
    with database.writing() as session, session.begin():
        folder = _destination(session, account_id, name)
        _refuse_kept(folder)
        if quota is not None:
            _check_quota(session, account_id, len(raw), quota)
        uid = mailstore.append(
            session, account_id, folder.name, raw, normal_flags(flags), internal_at
        )
        return folder.uid_validity, uid


def usage(session: Session, account_id: int) -> int:
    """Return the bytes the account's messages take."""
    total = session.scalar(
        select(func.coalesce(func.sum(MailMessage.size), 0))
        .join(MailFolder, MailFolder.id == MailMessage.folder_id)
        .where(MailFolder.account_id == account_id)
    )
    return int(total or 0)


def _check_quota(session: Session, account_id: int, adding: int, quota: int) -> None:
    if usage(session, account_id) + adding > quota:
        raise StorageRefusal("the mailbox is over its quota", "OVERQUOTA")


def _chunks(values: Sequence[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])
