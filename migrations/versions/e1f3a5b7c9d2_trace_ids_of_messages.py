"""trace ids: the one id of each message's log lines and mail, on both queues

Revision ID: e1f3a5b7c9d2
Revises: e7c3a91f5b20
Create Date: 2026-12-07 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e1f3a5b7c9d2"
down_revision: str | None = "e7c3a91f5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Messages stored before have no trace: their log lines never named one.
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trace_id", sa.String(length=16), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_trace_id"), ["trace_id"], unique=False
        )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trace_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_column("trace_id")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_trace_id"))
        batch_op.drop_column("trace_id")
