"""alerts: when each message failed for good, and when each kind of alert was last sent

Revision ID: e1f0a7c3b925
Revises: d4a7c2e9b813
Create Date: 2026-12-07 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "e1f0a7c3b925"
down_revision: str | None = "d4a7c2e9b813"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUEUES = ("inbound_messages", "outbound_messages")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_alerts")),
    )
    # Messages that failed before alerts existed have no time of failure: no alert
    # reports them (`mailcmd queue list --status failed` does).
    for table in _QUEUES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_failed_at"), ["failed_at"], unique=False)


def downgrade() -> None:
    for table in _QUEUES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_failed_at"))
            batch_op.drop_column("failed_at")
    op.drop_table("alerts")
