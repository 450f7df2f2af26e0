"""Local mailboxes: each account's folders and the messages in them, with IMAP's UIDs.

UIDs are strictly increasing per folder and never reused; a folder's UIDVALIDITY is
fixed when it is created. Appending takes the folder's row lock, so concurrent
deliveries to one folder get distinct, increasing UIDs on SQLite and PostgreSQL.
"""

import logging
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from mailcmd.db.inserts import InsertIfNew
from mailcmd.db.models import AccountAddress, Base, MailFolder, MailMessage
from mailcmd.db.notifier import Channel, announce
from mailcmd.db.types import utc_now

log = logging.getLogger(__name__)

INBOX = "INBOX"
# The folders every account starts with, and their RFC 6154 special-use flags.
DEFAULT_FOLDERS: dict[str, str | None] = {
    INBOX: None,
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}
# The tables themselves, for the Core statements of delivery's hot path.
_FOLDERS = Base.metadata.tables[MailFolder.__tablename__]
_MESSAGES = Base.metadata.tables[MailMessage.__tablename__]
_MAKE_FOLDER = InsertIfNew(_FOLDERS)
# One statement takes a folder's next UID and its row lock (PostgreSQL; SQLite
# writers are serialised anyway), so concurrent appends get distinct UIDs.
_TAKE_UID = (
    update(_FOLDERS)
    .where(
        _FOLDERS.c.account_id == bindparam("owner"),
        _FOLDERS.c.name == bindparam("folder_name"),
    )
    .values(uid_next=_FOLDERS.c.uid_next + 1)
    .returning(_FOLDERS.c.id, _FOLDERS.c.uid_next)
)
_STORE = insert(_MESSAGES)


def local_account_id(session: Session, address: str) -> int | None:
    """Return the account that owns `address` (normalised), or None."""
    return session.scalar(
        select(AccountAddress.account_id).where(AccountAddress.address == address)
    )


def ensure_default_folders(session: Session, account_id: int) -> None:
    """Create the account's default folders that do not exist yet.

    Safe against another transaction making them at the same moment (two batches
    delivering an account's first mails on PostgreSQL): a folder made meanwhile is
    left as it is, not an error.
    """
    existing = set(
        session.scalars(select(MailFolder.name).where(MailFolder.account_id == account_id))
    )
    connection = session.connection()
    for name, special_use in DEFAULT_FOLDERS.items():
        if name not in existing:
            _MAKE_FOLDER(
                connection,
                {
                    "account_id": account_id,
                    "name": name,
                    "special_use": special_use,
                    "uid_validity": new_uid_validity(),
                    "uid_next": 1,
                    "created_at": utc_now(),
                },
            )


def ensure_app_folders(session: Session, account_id: int, kept_by: Mapping[str, str]) -> None:
    """Create the account's app folders (name: the app mailbox keeping it) that are missing.

    Safe against another transaction making one at the same moment, as
    `ensure_default_folders` is: the worker's transaction must not fail for it.
    """
    connection = session.connection()
    for name, mailbox in kept_by.items():
        _MAKE_FOLDER(
            connection,
            {
                "account_id": account_id,
                "name": name,
                "kept_by": mailbox,
                "uid_validity": new_uid_validity(),
                "uid_next": 1,
                "created_at": utc_now(),
            },
        )


def new_uid_validity() -> int:
    """Return a UIDVALIDITY value: a non-zero 32-bit number, unique in practice."""
    return secrets.randbelow(2**31 - 1) + 1


def append(
    session: Session,
    account_id: int,
    folder_name: str,
    raw: bytes,
    flags: Iterable[str] = (),
    internal_at: datetime | None = None,
    shows: tuple[str, str] | None = None,
) -> int:
    """Store `raw` in the account's folder with the next UID, and return it; the caller commits.

    The folder must exist (the default folders are created on first delivery);
    `NoResultFound` is raised for any other missing folder. In an app folder,
    `shows` is the object's key and the digest of its rendering (see
    `mailcmd.runtime.folder_views`).
    """
    folder = {"owner": account_id, "folder_name": folder_name}
    # Core statements on the connection: the ORM's execution path costs more than
    # they do, and they run for every delivered reply.
    taken = session.connection().execute(_TAKE_UID, folder).one_or_none()
    if taken is None and folder_name == INBOX:
        # The first delivery to an account; later ones find the folders in place.
        ensure_default_folders(session, account_id)
        taken = session.connection().execute(_TAKE_UID, folder).one_or_none()
    if taken is None:
        raise NoResultFound(f"account {account_id} has no folder {folder_name!r}")
    folder_id, uid = taken[0], taken[1] - 1
    row = {
        "folder_id": folder_id,
        "uid": uid,
        "flags": sorted(set(flags)),
        "internal_at": internal_at or utc_now(),
        "size": len(raw),
        "raw": raw,
        "object_key": shows[0] if shows else None,
        "view_digest": shows[1] if shows else None,
    }
    session.connection().execute(_STORE, row)
    announce_change(session, account_id)
    return int(uid)


def deliver(session: Session, account_id: int, address: str, raw: bytes, what: str) -> None:
    """Append `raw`, sent to `address`, to the account's INBOX; the caller commits.

    Logged as a local delivery of `what` (the mail as a log line names it). The
    account's mailbox sessions hear of it when the caller commits (see `append`).
    """
    uid = append(session, account_id, INBOX, raw)
    log.info(
        "%s delivered to %s locally: INBOX uid %d, announced to IMAP on commit", what, address, uid
    )


def announce_change(session: Session, account_id: int) -> None:
    """Tell other processes' mailbox servers, once `session` commits, that the account changed.

    This process's own mailbox server is woken by whoever delivered.
    """
    announce(session, Channel.MAILBOX, str(account_id))
