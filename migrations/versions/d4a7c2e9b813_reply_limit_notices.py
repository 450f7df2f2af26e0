"""reply limit notices: the one mail that says replies are held back for an hour

Revision ID: d4a7c2e9b813
Revises: 5900f6bd422e
Create Date: 2026-12-09 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4a7c2e9b813"
down_revision: str | None = "5900f6bd422e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Mail already in the outbox was composed before notices existed: none is one.
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reply_limit_notice", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_column("reply_limit_notice")
