"""Engines and sessions for the configured database, SQLite or PostgreSQL."""

from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from mailcmd.db.private_files import private_sqlite_file

# How long a SQLite writer waits for another process's lock before giving up, in
# seconds, beyond the longest that process may hold it (see `open_engine`).
SQLITE_BUSY_SECONDS = 10.0
# Execution option: on SQLite, begin the transaction with BEGIN IMMEDIATE.
IMMEDIATE_OPTION = "mailcmd_begin_immediate"


def database_url(url: str) -> URL:
    """Return `url` with the driver mailcmd uses spelled out.

    `postgresql://` means psycopg 3 here (SQLAlchemy would otherwise pick psycopg2,
    which mailcmd does not install).
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    """Tell whether `url` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def open_engine(url: str, longest_write_seconds: float = 0.0) -> Engine:
    """Return an engine for `url`, set up the way mailcmd needs it.

    SQLite gets its file and folder created private (0600, 0700) before any data is
    in them, WAL journaling, enforced foreign keys and a busy timeout: a writer waits
    for another process's write lock `longest_write_seconds` (the longest another
    mailcmd holds it: a handler's time limit) and `SQLITE_BUSY_SECONDS` more, so that
    a busy file delays writers but never fails them. PostgreSQL connections are
    checked before use.
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_sqlite_file(Path(parsed.database))
        engine = create_engine(parsed)
        busy_ms = round(1000 * (SQLITE_BUSY_SECONDS + longest_write_seconds))
        event.listen(engine, "connect", partial(_configure_sqlite_connection, busy_ms))
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def _begin_sqlite_transaction(connection: Connection) -> None:
    # pysqlite's own implicit BEGIN is turned off (below) so that a transaction that
    # will write can take the write lock up front.
    immediate = connection.get_execution_options().get(IMMEDIATE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _configure_sqlite_connection(
    busy_ms: int, dbapi_connection: Any, connection_record: Any
) -> None:
    # Transactions are begun explicitly by _begin_sqlite_transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # First: switching a new file to WAL takes a lock that another process
        # starting at the same moment may hold.
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL with synchronous=NORMAL is durable across application crashes; FULL
        # also survives power loss, which is the promise a 250 makes.
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()
