"""app folders: a folder kept by an app, the object each of its messages shows, and
the queued actions a person took in one

Revision ID: f2a4c6e8b0d1
Revises: e1f3a5b7c9d2
Create Date: 2026-12-07 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2a4c6e8b0d1"
down_revision: str | None = "e1f3a5b7c9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing folders and messages are the accounts' own: NULL says so.
    with op.batch_alter_table("mail_folders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kept_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("object_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("view_digest", sa.String(length=64), nullable=True))
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("folder_action", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("folder_object", sa.String(length=130), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_column("folder_object")
        batch_op.drop_column("folder_action")
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.drop_column("view_digest")
        batch_op.drop_column("object_key")
    with op.batch_alter_table("mail_folders", schema=None) as batch_op:
        batch_op.drop_column("kept_by")
