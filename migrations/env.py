"""Alembic environment for mailcmd: configured in code by `mailcmd.db.migrations`."""

from alembic import context

from mailcmd.db.migrations import configure_context

configure_context(context)
