"""confirmations: commands waiting for their sender's confirming reply

Revision ID: 5900f6bd422e
Revises: 89ac449e96c7
Create Date: 2026-12-06 22:09:23.731841
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5900f6bd422e"
down_revision: str | None = "89ac449e96c7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "confirmations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mailbox", sa.String(length=64), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("holder", sa.String(length=270), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asked_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmations")),
    )


def downgrade() -> None:
    op.drop_table("confirmations")
