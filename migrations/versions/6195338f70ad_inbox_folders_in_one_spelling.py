"""INBOX folders in one spelling

Revision ID: 6195338f70ad
Revises: 3c1d2e4f5a6b
Create Date: 2026-12-06 19:03:29.016319

INBOX is case-insensitive (RFC 3501), also as a parent, and the mailbox server now
finds `inbox/child` under `INBOX/child` only: folders stored before that as
`inbox/...`, `Inbox/...` (or a second `Inbox`) could no longer be reached. Each is
renamed to its `INBOX` spelling; where that name is taken, its messages move into
the folder that has it, with fresh UIDs there, and the empty folder goes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6195338f70ad"
down_revision: str | None = "3c1d2e4f5a6b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rule of `mailcmd.imap.mailbox_names.canonical_name` as it stood when this was
# written: a migration keeps meaning what it meant, whatever the code becomes.
INBOX = "INBOX"
DELIMITER = "/"

folders = sa.table(
    "mail_folders",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("name", sa.String(255)),
    sa.column("uid_next", sa.BigInteger()),
)
messages = sa.table(
    "mail_messages",
    sa.column("folder_id", sa.Integer()),
    sa.column("uid", sa.BigInteger()),
)


def upgrade() -> None:
    connection = op.get_bind()
    first_level = sa.func.substr(folders.c.name, 1, len(INBOX))
    strays = connection.execute(
        sa.select(folders.c.account_id, folders.c.name, folders.c.id).where(
            sa.func.upper(first_level) == INBOX, first_level != INBOX
        )
    ).all()
    # Sorted here, not by the database, whose collation may differ: which of two
    # spellings is merged first decides the UIDs, the same on SQLite and PostgreSQL.
    for account_id, name, folder_id in sorted(strays):
        level, separator, rest = name.partition(DELIMITER)
        # `Inboxes/...` starts with the letters of INBOX but is another name.
        if level.upper() == INBOX:
            _bring_home(connection, folder_id, account_id, INBOX + separator + rest)


def _bring_home(connection: sa.Connection, folder_id: int, account_id: int, name: str) -> None:
    # Strays are taken one by one, so a name one of them took is seen by the next
    # (`inbox/a` and `Inbox/a` both end in `INBOX/a`).
    target = connection.execute(
        sa.select(folders.c.id, folders.c.uid_next).where(
            folders.c.account_id == account_id, folders.c.name == name
        )
    ).one_or_none()
    if target is None:
        connection.execute(sa.update(folders).where(folders.c.id == folder_id).values(name=name))
        return
    target_id, uid_next = target
    lowest, highest = connection.execute(
        sa.select(sa.func.min(messages.c.uid), sa.func.max(messages.c.uid)).where(
            messages.c.folder_id == folder_id
        )
    ).one()
    if lowest is not None:
        # Every moved UID lands at or above the target's UIDNEXT, in the order the
        # messages had: new to the target's clients, and its UIDVALIDITY stands.
        shift = uid_next - lowest
        connection.execute(
            sa.update(messages)
            .where(messages.c.folder_id == folder_id)
            .values(folder_id=target_id, uid=messages.c.uid + shift)
        )
        connection.execute(
            sa.update(folders).where(folders.c.id == target_id).values(uid_next=highest + shift + 1)
        )
    connection.execute(sa.delete(folders).where(folders.c.id == folder_id))


def downgrade() -> None:
    # The names given are valid before this revision too, and the folders merged
    # cannot be told apart again: going back leaves the mailboxes as they are.
    pass
