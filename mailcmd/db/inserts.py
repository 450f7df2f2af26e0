"""Inserting a row only if its key is new, in one statement on SQLite and PostgreSQL."""

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


class InsertIfNew:
    """`INSERT ... ON CONFLICT DO NOTHING` into one table, built once for each dialect.

    Built at import and executed with parameters: it runs for every message, and
    building a statement per call costs more than executing it.
    """

    def __init__(self, table: Table) -> None:
        """Insert into `table`, whose primary key says whether a row went in."""
        # RETURNING says whether a row went in: a row count is not reported alike by
        # every driver for this statement (psycopg through SQLAlchemy gives -1).
        key = next(iter(table.primary_key))
        self._postgresql = postgresql.insert(table).on_conflict_do_nothing().returning(key)
        self._sqlite = sqlite.insert(table).on_conflict_do_nothing().returning(key)

    def __call__(self, connection: Connection, values: dict[str, Any]) -> bool:
        """Insert `values` unless a row with the same key exists; True if inserted.

        One statement: no savepoint, no integrity error, and the row's key lock is
        held to the end of the caller's transaction. Core on the connection, not
        the ORM session.
        """
        # The dialects' own INSERTs are the ones with ON CONFLICT; which one is a
        # question of syntax, so it is asked by name.
        postgres = connection.dialect.name == "postgresql"
        statement = self._postgresql if postgres else self._sqlite
        return connection.execute(statement, values).first() is not None
