"""outbound budgets: the account a reply answers, the address a notification goes to

Revision ID: 9b5d4e7fe41b
Revises: 7fed3b316bef
Create Date: 2026-12-06 18:50:34.166855
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b5d4e7fe41b"
down_revision: str | None = "7fed3b316bef"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answers_account_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("notifies_address", sa.String(length=254), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbound_messages_answers_account_id"),
            ["answers_account_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_outbound_messages_notifies_address"),
            ["notifies_address", "created_at"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbound_messages_answers_account_id_accounts"),
            "accounts",
            ["answers_account_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbound_messages_answers_account_id_accounts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbound_messages_notifies_address"))
        batch_op.drop_index(batch_op.f("ix_outbound_messages_answers_account_id"))
        batch_op.drop_column("notifies_address")
        batch_op.drop_column("answers_account_id")
