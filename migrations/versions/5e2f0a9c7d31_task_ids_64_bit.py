"""task ids are 64-bit on PostgreSQL, as the numbers people write may be

Revision ID: 5e2f0a9c7d31
Revises: 6195338f70ad
Create Date: 2026-12-06 19:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e2f0a9c7d31"
down_revision: str | None = "6195338f70ad"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's INTEGER is already 64 bits; only PostgreSQL's columns change.
_COLUMNS = (
    ("tasks", "id"),
    ("task_comments", "task_id"),
    ("task_attachments", "task_id"),
    ("task_shares", "task_id"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in reversed(_COLUMNS):
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
