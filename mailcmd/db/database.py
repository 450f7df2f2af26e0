"""The database a mailcmd process works on: one engine, its sessions, and write transactions."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from mailcmd.db.capabilities import Capabilities, capabilities
from mailcmd.db.engine import IMMEDIATE_OPTION, open_engine, session_factory
from mailcmd.db.migrations import prepare_schema
from mailcmd.db.notifier import send_announcements, withdraw_announcements


class WriterQueue:
    """SQLite's one writer at a time, in this process; durable accepts go first.

    A message is not acknowledged until its commit, so the receiver's group commit
    waits for at most the transaction in progress, never behind every worker
    thread queued for the lock. The receiver holds one batch at a time, so the
    others get their turns between its commits.
    """

    def __init__(self) -> None:
        """A free writer slot."""
        self._changed = threading.Condition()
        self._held = False
        self._urgent_waiting = 0
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """How many writers wait for the slot now."""
        with self._changed:
            return self._waiting

    @contextmanager
    def turn(self, urgent: bool = False) -> Iterator[None]:
        """Hold the writer slot for the block; `urgent` turns go before the others."""
        # Taking and giving back the slot sit in one try, so that an exception raised
        # in this thread from outside (a handler given up on) never keeps it taken.
        held = False
        try:
            with self._changed:
                self._urgent_waiting += urgent
                self._waiting += 1
                try:
                    while self._held or (not urgent and self._urgent_waiting):
                        self._changed.wait()
                finally:
                    self._urgent_waiting -= urgent
                    self._waiting -= 1
                self._held = held = True
            yield
        finally:
            if held:
                with self._changed:
                    self._held = False
                    self._changed.notify_all()


@dataclass(frozen=True)
class Database:
    """An engine with a schema this mailcmd can use, and the factory of its sessions."""

    engine: Engine
    sessions: sessionmaker[Session]
    # SQLite has one writer at a time: in-process writers queue here instead of
    # timing out on the file lock.
    _writers_queue: WriterQueue | None = field(default=None, repr=False)
    # What the database can do, asked once.
    capabilities: Capabilities = field(init=False)
    # Transactions that take the write lock as they begin (SQLite), made once.
    _writer_engine: Engine = field(init=False, repr=False)
    _writers: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Make the writing engine and session factory once, rather than per transaction."""
        object.__setattr__(self, "capabilities", capabilities(self.engine))
        writer_engine = self.engine.execution_options(**{IMMEDIATE_OPTION: True})
        object.__setattr__(self, "_writer_engine", writer_engine)
        object.__setattr__(self, "_writers", session_factory(writer_engine))

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """Yield a session for a transaction that reads and then writes; the caller commits.

        On SQLite the transaction takes the write lock when it begins, so that it
        cannot fail half-way because another writer committed after its first read.
        """
        guard = self._writers_queue.turn() if self._writers_queue else nullcontext()
        with guard, self._writers() as session:
            yield session

    @contextmanager
    def writing_connection(self) -> Iterator[Connection]:
        """Yield a connection in a write transaction, committed when the block ends.

        The same lock as `writing` is taken, so that on SQLite this writer waits its
        turn among the others instead of polling the file lock with growing sleeps;
        it is the receiver's durable accept, so it goes before them. An exception
        rolls the transaction back. What was announced in it (`notifier.announce`)
        is sent once it has committed.
        """
        guard = self._writers_queue.turn(urgent=True) if self._writers_queue else nullcontext()
        with guard, self._writer_engine.begin() as connection:
            try:
                yield connection
            finally:
                announced = withdraw_announcements(connection)
        send_announcements(self.capabilities, announced)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(url: str, longest_write_seconds: float = 0.0) -> Database:
    """Open the database at `url`, upgrading an embedded SQLite schema to head.

    `longest_write_seconds` is how long a write transaction of another process may
    hold SQLite's lock (`open_engine`). Raises `SchemaBehindError` for a PostgreSQL
    schema that is not at head.
    """
    engine = open_engine(url, longest_write_seconds)
    try:
        prepare_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    queue = WriterQueue() if capabilities(engine).single_writer else None
    return Database(engine=engine, sessions=session_factory(engine), _writers_queue=queue)
