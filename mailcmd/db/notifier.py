"""Wake-ups between the processes that share one database, on channels named here.

A process announces, inside a write transaction, that something changed (new mail
queued, a mailbox changed); every other process that listens on that channel hears
of it once the transaction commits. PostgreSQL carries it by `NOTIFY`, which is
transactional; SQLite by a datagram, sent after the commit, to a Unix socket that
each listening process binds in a folder beside the database file. A listener may
also hear its own process (`subscribe(..., here_too=True)`): PostgreSQL's NOTIFY
comes back to the process that sent it; on SQLite the commit hands it over
directly. A wake-up is only a hint: listeners also look again periodically, so a
lost one only delays.
"""

import asyncio
import atexit
import contextlib
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

import psycopg
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

from mailcmd.db.capabilities import Capabilities, capabilities
from mailcmd.db.private_files import private_folder

log = logging.getLogger(__name__)

# How long a lost PostgreSQL listening connection rests before it is made again.
RECONNECT_SECONDS = 5.0
# Where, in `session.info` or `connection.info`, announcements wait for the commit.
_PENDING = "mailcmd_announcements"
# A listener's socket: its process id, then a random token so that a later process
# with a reused id never takes a dead one's name for its own.
_SOCKET_NAME = re.compile(r"(\d+)-[0-9a-f]{16}")
# A wake-up is a channel and a short payload; anything longer is not ours.
_DATAGRAM_BYTES = 256
# The longest socket path every system takes (sun_path is 108 bytes on Linux, 104 on
# the BSDs, with its NUL); a longer one is reached through the folder's descriptor.
_SOCKET_PATH_BYTES = 103
_LONGEST_NAME = len(f"{2**22}-{'0' * 16}")
# How long a listing of the other processes' sockets is trusted at most.
_LISTING_SECONDS = 1.0
_PG_NOTIFY = text("SELECT pg_notify(:channel, :payload)")

Listener = Callable[[str], None]


class Channel(StrEnum):
    """What changed; the value is the PostgreSQL channel name."""

    # Mail was stored in the inbound queue: workers look for work.
    NEW_MAIL = "mailcmd_inbound"
    # An account's mail changed; the payload is its id: its mailbox sessions look again.
    MAILBOX = "mailcmd_mailbox"
    # Mail was queued for the relay: deliverers look.
    RELAY_MAIL = "mailcmd_relay"


def announce(transaction: Session | Connection, channel: Channel, payload: str = "") -> None:
    """Tell the other processes listening on `channel`, once `transaction` commits.

    Nothing is told if it rolls back. A `Connection` must be one of
    `Database.writing_connection`, which sends what was announced after its commit.
    """
    bind = transaction.get_bind() if isinstance(transaction, Session) else transaction
    if capabilities(bind).notify:
        transaction.execute(_PG_NOTIFY, {"channel": channel.value, "payload": payload})
        return
    pending: set[tuple[Channel, str]] = transaction.info.setdefault(_PENDING, set())
    pending.add((channel, payload))


def withdraw_announcements(connection: Connection) -> set[tuple[Channel, str]]:
    """Take back what was announced in `connection`'s transaction, to send after its commit."""
    taken: set[tuple[Channel, str]] = connection.info.pop(_PENDING, set())
    return taken


def send_announcements(
    database: Capabilities, announcements: Iterable[tuple[Channel, str]]
) -> None:
    """Send committed announcements to every other listening process (SQLite's way).

    A socket nobody listens on any more (its process died) is removed; a listener
    whose queue is full has wake-ups pending already and is skipped.
    """
    announcements = list(announcements)
    if not announcements or database.file is None:
        return
    _HERE.hear(database.file, announcements)
    folder = wake_folder(database.file)
    others = _OTHERS.listening(folder)
    if not others:
        # One process alone (`mailcmd serve` with its worker): nobody to tell.
        return
    datagrams = [f"{channel.value}\n{payload}".encode() for channel, payload in announcements]
    with _socket_addresses(folder) as address:
        for name in others:
            try:
                for datagram in datagrams:
                    _OTHERS.sender.sendto(datagram, address(name))
            except ConnectionRefusedError:
                # Nobody is bound to it: its process died without removing it.
                (folder / name).unlink(missing_ok=True)
            except OSError:
                # Full (its process has wake-ups pending), or gone meanwhile.
                continue


class _OtherProcesses:
    """The sockets of the other listening processes, listed again only when it may matter.

    Every commit that announces asks; listing the folder and making a socket each
    time would cost more than the rest of sending. The listing is read again when
    the folder changed (a process came or went) and at least every second, since a
    change within the file system's time granularity leaves the folder's time as
    it was.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listings: dict[Path, tuple[int, float, list[str]]] = {}
        self._sender: socket.socket | None = None

    @property
    def sender(self) -> socket.socket:
        """A socket to send datagrams from, shared by every thread of this process."""
        with self._lock:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
                # Kept for the life of the process, and closed with it.
                atexit.register(self._sender.close)
            return self._sender

    def listening(self, folder: Path) -> list[str]:
        """The names of the sockets in `folder` of processes other than this one."""
        try:
            changed = os.stat(folder).st_mtime_ns
        except FileNotFoundError:
            return []
        now = time.monotonic()
        with self._lock:
            known = self._listings.get(folder)
        if known is not None and known[0] == changed and now - known[1] < _LISTING_SECONDS:
            return known[2]
        own = str(os.getpid())
        others = [
            name
            for name in os.listdir(folder)
            if (found := _SOCKET_NAME.fullmatch(name)) is not None and found.group(1) != own
        ]
        with self._lock:
            self._listings[folder] = (changed, now, others)
        return others


_OTHERS = _OtherProcesses()


class _ThisProcess:
    """The notifiers of this process that hear its own announcements, by SQLite file.

    Commits happen in any thread; each notifier hears on its own event loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notifiers: dict[str, list[Notifier]] = defaultdict(list)

    def add(self, database_file: str, notifier: "Notifier") -> None:
        """Hand `notifier` what this process announces on `database_file` from now on."""
        with self._lock:
            self._notifiers[database_file].append(notifier)

    def remove(self, database_file: str, notifier: "Notifier") -> None:
        """Stop handing `notifier` anything."""
        with self._lock:
            self._notifiers[database_file].remove(notifier)

    def hear(self, database_file: str, announcements: list[tuple[Channel, str]]) -> None:
        """Hand committed `announcements` to this process's notifiers of `database_file`."""
        with self._lock:
            notifiers = list(self._notifiers.get(database_file, ()))
        for notifier in notifiers:
            notifier.hear_from_here(announcements)


_HERE = _ThisProcess()


def wake_folder(database_file: str) -> Path:
    """The folder beside a SQLite database file where its processes' wake-up sockets are."""
    path = Path(database_file)
    return path.with_name(f"{path.name}.wake")


@contextmanager
def _socket_addresses(folder: Path) -> Iterator[Callable[[str], str]]:
    """Yield what to bind or send to for the socket of a name in `folder`.

    A path too long for a socket address is reached as `/proc/self/fd/N/name`
    through a descriptor of the folder, where the system has that (Linux).
    """
    if len(os.fsencode(folder)) + 1 + _LONGEST_NAME <= _SOCKET_PATH_BYTES or not os.path.isdir(
        "/proc/self/fd"
    ):
        yield lambda name: os.fspath(folder / name)
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield lambda name: f"/proc/self/fd/{descriptor}/{name}"
    finally:
        os.close(descriptor)


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        send_announcements(capabilities(session.get_bind()), pending)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


class Notifier:
    """This process's one listener: other processes' announcements, by channel, to callbacks.

    A `Service` of the process (`mailcmd.runtime.services`).
    """

    name = "notifier"

    def __init__(self, engine: Engine) -> None:
        """Listen for the processes that share `engine`'s database."""
        self._database = capabilities(engine)
        self._url = engine.url
        self._listeners: dict[Channel, list[Listener]] = defaultdict(list)
        # The channels whose announcements by this process are heard here too.
        self._here_too: set[Channel] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        # The SQLite file whose commits in this process are handed over directly.
        self._heard_here_on: str | None = None
        # The task that listens on PostgreSQL, while it does.
        self._listening: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._socket_path: Path | None = None

    def subscribe(self, channel: Channel, listener: Listener, *, here_too: bool = False) -> None:
        """Call `listener` with the payload of each announcement on `channel`; before `start`.

        With `here_too`, announcements that this process commits are heard as well,
        not only other processes'.
        """
        self._listeners[channel].append(listener)
        if here_too:
            self._here_too.add(channel)

    def hear_from_here(self, announcements: list[tuple[Channel, str]]) -> None:
        """Hear what this process just committed, on the channels heard here too; any thread."""
        heard = [
            (channel, payload) for channel, payload in announcements if channel in self._here_too
        ]
        loop = self._loop
        if heard and loop is not None:
            # Runs in a commit's hook, which must not fail: a loop closed meanwhile hears nothing.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._hear_all, heard)

    async def start(self) -> None:
        """Begin hearing on the running loop, if anything subscribed.

        SQLite's wake-ups arrive on a socket bound here; PostgreSQL's on `run`'s connection.
        """
        if not self._listeners:
            return
        self._loop = asyncio.get_running_loop()
        if self._here_too and not self._database.notify and self._database.file is not None:
            # SQLite's datagrams go to other processes only: the commit hands it over.
            self._heard_here_on = self._database.file
            _HERE.add(self._heard_here_on, self)
        if not self._database.notify and self._database.file is not None:
            self._bind(wake_folder(self._database.file))

    async def run(self) -> None:
        """Listen on PostgreSQL's channels until stopped; at once done elsewhere.

        A lost connection is made again after `RECONNECT_SECONDS`; meanwhile the
        listeners poll as they always do.
        """
        if not self._listeners or not self._database.notify:
            return
        self._listening = asyncio.current_task()
        url = self._url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True
                ) as connection:
                    for channel in self._listeners:
                        await connection.execute(f"LISTEN {channel.value}")
                    self._hear_everything()
                    async for notice in connection.notifies():
                        self._hear(notice.channel, notice.payload)
            except psycopg.Error as error:
                log.warning("listening for other processes failed, polling meanwhile: %s", error)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def stop(self) -> None:
        """Stop listening (`run` ends); the socket of this process, if any, is removed."""
        if self._heard_here_on is not None:
            _HERE.remove(self._heard_here_on, self)
            self._heard_here_on = None
        self._loop = None
        if self._listening is not None:
            # Waiting for the next notice has no end of its own: it is cancelled.
            self._listening.cancel()
            self._listening = None
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None
        if self._socket_path is not None:
            self._socket_path.unlink(missing_ok=True)
            self._socket_path = None

    def _hear(self, channel: str, payload: str) -> None:
        try:
            known = Channel(channel)
        except ValueError:
            return
        for listener in self._listeners.get(known, ()):
            listener(payload)

    def _hear_all(self, announcements: list[tuple[Channel, str]]) -> None:
        for channel, payload in announcements:
            self._hear(channel, payload)

    def _hear_everything(self) -> None:
        # What was announced while nobody listened is unknown: everyone looks again.
        for channel in list(self._listeners):
            self._hear(channel, "")

    def _bind(self, folder: Path) -> None:
        private_folder(folder)
        name = f"{os.getpid()}-{secrets.token_hex(8)}"
        path = folder / name
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            with _socket_addresses(folder) as address:
                listening.bind(address(name))
        except OSError as error:
            # A path too long where there is no /proc, for one: this process polls.
            listening.close()
            log.warning("cannot listen for other processes at %s, polling: %s", path, error)
            return
        listening.setblocking(False)
        self._socket, self._socket_path = listening, path
        asyncio.get_running_loop().add_reader(listening.fileno(), self._receive)

    def _receive(self) -> None:
        assert self._socket is not None
        while True:
            try:
                datagram = self._socket.recv(_DATAGRAM_BYTES)
            except BlockingIOError:
                return
            channel, _, payload = datagram.decode(errors="replace").partition("\n")
            self._hear(channel, payload)
