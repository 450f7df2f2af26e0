"""The database a mailcmd process works on: one engine and its sessions."""

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailcmd.db.engine import open_engine, session_factory
from mailcmd.db.migrations import prepare_schema


@dataclass(frozen=True)
class Database:
    """An engine with a schema this mailcmd can use, and the factory of its sessions."""

    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(url: str) -> Database:
    """Open the database at `url`, upgrading an embedded SQLite schema to head.

    Raises `SchemaBehindError` for a PostgreSQL schema that is not at head.
    """
    engine = open_engine(url)
    try:
        prepare_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return Database(engine=engine, sessions=session_factory(engine))
