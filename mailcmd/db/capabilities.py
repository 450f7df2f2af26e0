"""What the database behind an engine can do, asked by what callers need, not by its name."""

from dataclasses import dataclass
from functools import cache

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL, make_url


@dataclass(frozen=True)
class Capabilities:
    """The features mailcmd's storage code chooses between; one place decides them."""

    # `SELECT ... FOR UPDATE SKIP LOCKED`: several claimers each take other rows.
    skip_locked: bool
    # Transactional NOTIFY to other processes' connections, delivered on commit.
    notify: bool
    # One writer at a time for the whole database, across processes (SQLite): a
    # transaction that will write must take the write lock as it begins, and this
    # process's writers queue for it rather than time out on the file lock.
    single_writer: bool
    # Rows can be made with room for a large value that is then written in place
    # (SQLite's incremental blob I/O), instead of being copied whole as a parameter.
    blob_io: bool
    # The database is one file on this machine; its path is where processes that
    # share it can meet (None for a server database or SQLite in memory).
    file: str | None


def capabilities(where: Engine | Connection | URL | str) -> Capabilities:
    """Return what the database behind `where` (an engine, a connection or a URL) can do."""
    url = where if isinstance(where, URL | str) else where.engine.url
    return _capabilities(make_url(url))


@cache
def _capabilities(url: URL) -> Capabilities:
    if url.get_backend_name() == "sqlite":
        in_file = url.database not in (None, "", ":memory:")
        return Capabilities(
            skip_locked=False,
            notify=False,
            single_writer=True,
            blob_io=True,
            file=url.database if in_file else None,
        )
    return Capabilities(
        skip_locked=True, notify=True, single_writer=False, blob_io=False, file=None
    )
