"""login throttles per login and client address

Revision ID: 3c1d2e4f5a6b
Revises: 9b5d4e7fe41b
Create Date: 2026-12-06 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1d2e4f5a6b"
down_revision: str | None = "9b5d4e7fe41b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Failed logins are minutes-long state: starting the new count empty forgets at
    # most one lockout window, and spares a primary-key change on SQLite.
    op.drop_table("login_throttles")
    op.create_table(
        "login_throttles",
        sa.Column("login", sa.String(length=254), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("login", "client", name=op.f("pk_login_throttles")),
    )
    op.create_index(
        op.f("ix_login_throttles_first_failure_at"),
        "login_throttles",
        ["first_failure_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_throttles_first_failure_at"), table_name="login_throttles")
    op.drop_table("login_throttles")
    op.create_table(
        "login_throttles",
        sa.Column("login", sa.String(length=254), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_login_throttles")),
    )
