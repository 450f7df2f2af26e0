"""Inserting a row only if its key is new, in one statement on SQLite and PostgreSQL."""

from typing import Any

from sqlalchemy import Connection, FromClause
from sqlalchemy.dialects import postgresql, sqlite


def insert_if_new(connection: Connection, table: FromClause, values: dict[str, Any]) -> bool:
    """Insert `values` into `table` unless a row with the same key exists; True if inserted.

    One `INSERT ... ON CONFLICT DO NOTHING`: no savepoint, no integrity error, and
    the row's key lock is held to the end of the caller's transaction. Core on the
    connection, not the ORM session: it runs for every message.
    """
    # The dialects' own INSERTs are the ones with ON CONFLICT; which one is a
    # question of syntax, so it is asked by name.
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    # RETURNING says whether a row went in: a row count is not reported alike by
    # every driver for this statement (psycopg through SQLAlchemy gives -1).
    key = next(iter(table.primary_key))
    statement = dialect.insert(table).values(values).on_conflict_do_nothing().returning(key)
    return connection.execute(statement).first() is not None
