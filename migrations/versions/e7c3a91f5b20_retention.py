"""retention: inbound texts dropped after a while, and the indexes the purge walks

Revision ID: e7c3a91f5b20
Revises: e1f0a7c3b925
Create Date: 2026-12-07 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e7c3a91f5b20"
down_revision: str | None = "e1f0a7c3b925"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_dropped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_raw_dropped_at"),
            ["raw_dropped_at", "next_attempt_at"],
            unique=False,
        )
    with op.batch_alter_table("processed_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processed_messages_processed_at"), ["processed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("processed_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_messages_processed_at"))
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_raw_dropped_at"))
        batch_op.drop_column("raw_dropped_at")
