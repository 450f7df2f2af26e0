"""outbound mail that holds a secret, so that its text is removed once delivered

Revision ID: 0c7e3b9d2a41
Revises: 5e2f0a9c7d31
Create Date: 2026-12-07 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0c7e3b9d2a41"
down_revision: str | None = "5e2f0a9c7d31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Mail already in the outbox was not marked when it was composed: it is taken
    # to hold none, as before (`outbox purge` removes old mail).
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("holds_secret", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_column("holds_secret")
