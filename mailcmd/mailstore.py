"""Local mailboxes: each account's folders and the messages in them, with IMAP's UIDs.

UIDs are strictly increasing per folder and never reused; a folder's UIDVALIDITY is
fixed when it is created. Appending takes the folder's row lock, so concurrent
deliveries to one folder get distinct, increasing UIDs on SQLite and PostgreSQL.
"""

import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from mailcmd.db.models import AccountAddress, MailFolder, MailMessage
from mailcmd.db.types import utc_now

INBOX = "INBOX"
# The PostgreSQL channel on which a change to an account's mailbox is announced to
# the mailbox servers of every process; the payload is the account id.
MAILBOX_CHANNEL = "mailcmd_mailbox"
# The folders every account starts with, and their RFC 6154 special-use flags.
DEFAULT_FOLDERS: dict[str, str | None] = {
    INBOX: None,
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}


def local_account_id(session: Session, address: str) -> int | None:
    """Return the account that owns `address` (normalised), or None."""
    return session.scalar(
        select(AccountAddress.account_id).where(AccountAddress.address == address)
    )


def ensure_default_folders(session: Session, account_id: int) -> None:
    """Create the account's default folders that do not exist yet."""
    existing = set(
        session.scalars(select(MailFolder.name).where(MailFolder.account_id == account_id))
    )
    for name, special_use in DEFAULT_FOLDERS.items():
        if name not in existing:
            session.add(
                MailFolder(
                    account_id=account_id,
                    name=name,
                    special_use=special_use,
                    uid_validity=new_uid_validity(),
                    uid_next=1,
                )
            )
    session.flush()


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
) -> MailMessage:
    """Store `raw` in the account's folder with the next UID; the caller commits.

    The folder must exist (the default folders are created on first delivery).
    """
    query = (
        select(MailFolder)
        .where(MailFolder.account_id == account_id, MailFolder.name == folder_name)
        .with_for_update()
    )
    folder = session.scalars(query).one_or_none()
    if folder is None:
        if folder_name == INBOX:
            # The first delivery to an account; later ones find the folders in place.
            ensure_default_folders(session, account_id)
        folder = session.scalars(query).one()
    message = MailMessage(
        folder_id=folder.id,
        uid=folder.uid_next,
        flags=sorted(set(flags)),
        internal_at=internal_at or utc_now(),
        size=len(raw),
        raw=raw,
    )
    folder.uid_next += 1
    session.add(message)
    session.flush()
    announce_change(session, account_id)
    return message


def announce_change(session: Session, account_id: int) -> None:
    """Tell other processes' mailbox servers, once `session` commits, that the account changed.

    Only PostgreSQL carries the news (NOTIFY is transactional); with SQLite the
    in-process wake-up and the mailbox server's periodic re-check do.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": MAILBOX_CHANNEL, "payload": str(account_id)},
        )
