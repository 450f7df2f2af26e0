"""The notifier: what one process announces in a transaction, others hear once it commits."""

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from mailcmd.db import migrations
from mailcmd.db.capabilities import capabilities
from mailcmd.db.database import Database, open_database
from mailcmd.db.engine import open_engine
from mailcmd.db.models import Account
from mailcmd.db.notifier import Channel, Notifier, announce, wake_folder
from tests.servers import TIMEOUT

FOREIGN_SOCKET = "4194305-0123456789abcdef"  # above Linux's highest process id


@pytest.fixture
def upgraded_url(database_url: str) -> str:
    """The test's database with mailcmd's schema at head."""
    engine = open_engine(database_url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    return database_url


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    """A SQLite database of its own, whatever database the other tests run on."""
    database = open_database(f"sqlite:///{tmp_path / 'state' / 'mailcmd.db'}")
    try:
        yield database
    finally:
        database.close()


def _bind(listening: socket.socket, folder: Path) -> None:
    """Bind `listening` as another process's socket in `folder`, whose path may be too long.

    The test's folder is deep in pytest's, beyond what a socket address holds, as a
    deployment's may be: this reaches it as the notifier does, through /proc.
    """
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        listening.bind(f"/proc/self/fd/{descriptor}/{FOREIGN_SOCKET}")
    finally:
        os.close(descriptor)


async def start(notifier: Notifier) -> "asyncio.Task[None]":
    """Start `notifier` as the server does: its `run` as a task."""
    await notifier.start()
    return asyncio.create_task(notifier.run())


async def stop(notifier: Notifier, running: "asyncio.Task[None]") -> None:
    """Stop `notifier` as the server does, and wait for its `run` to end."""
    await notifier.stop()
    await asyncio.wait([running])


def _announce_in_another_process(url: str, payload: str, commit: bool) -> None:
    script = f"""
        from mailcmd.db.database import open_database
        from mailcmd.db.notifier import Channel, announce
        database = open_database({url!r})
        with database.writing() as session:
            announce(session, Channel.MAILBOX, {payload!r})
            session.{"commit" if commit else "rollback"}()
        database.close()
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=True, timeout=TIMEOUT)


async def test_a_committed_announcement_of_another_process_is_heard_a_rolled_back_one_not(
    upgraded_url: str,
) -> None:
    engine = open_engine(upgraded_url)
    notifier = Notifier(engine)
    heard: asyncio.Queue[str] = asyncio.Queue()
    notifier.subscribe(Channel.MAILBOX, heard.put_nowait)
    notifier.subscribe(Channel.NEW_MAIL, lambda payload: heard.put_nowait(f"new mail {payload}"))
    running = await start(notifier)
    try:
        if capabilities(engine).notify:
            # A fresh LISTEN connection tells everyone to look, since it missed what came before.
            assert {await heard.get(), await heard.get()} == {"", "new mail "}
        await asyncio.to_thread(_announce_in_another_process, upgraded_url, "7", False)
        await asyncio.to_thread(_announce_in_another_process, upgraded_url, "8", True)

        assert await asyncio.wait_for(heard.get(), TIMEOUT) == "8"
        assert heard.empty()
    finally:
        await stop(notifier, running)
        engine.dispose()


async def test_a_stopped_notifier_removes_its_socket(sqlite_database: Database) -> None:
    notifier = Notifier(sqlite_database.engine)
    notifier.subscribe(Channel.NEW_MAIL, lambda payload: None)
    assert sqlite_database.capabilities.file is not None
    folder = wake_folder(sqlite_database.capabilities.file)
    running = await start(notifier)
    assert [name.split("-")[0] for name in os.listdir(folder)] == [str(os.getpid())]
    assert folder.stat().st_mode & 0o777 == 0o700

    await stop(notifier, running)

    assert os.listdir(folder) == []


def test_the_socket_of_a_dead_process_is_removed_and_harms_no_commit(
    sqlite_database: Database,
) -> None:
    assert sqlite_database.capabilities.file is not None
    folder = wake_folder(sqlite_database.capabilities.file)
    folder.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dead:
        _bind(dead, folder)
    # Closed without removing its file, as a process killed with SIGKILL leaves it.

    with sqlite_database.writing() as session:
        announce(session, Channel.MAILBOX, "1")
        session.commit()

    assert os.listdir(folder) == []


def test_a_listener_that_reads_nothing_never_blocks_a_commit(sqlite_database: Database) -> None:
    assert sqlite_database.capabilities.file is not None
    folder = wake_folder(sqlite_database.capabilities.file)
    folder.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stuck:
        _bind(stuck, folder)
        with sqlite_database.writing_connection() as connection:
            for number in range(5000):
                announce(connection, Channel.MAILBOX, str(number))
            announce(connection, Channel.NEW_MAIL)
            connection.execute(
                insert(Account).values(login="carol@app.localhost", password_hash="x")
            )

        # The commit went through; the listener has what its queue could hold.
        with sqlite_database.sessions() as session:
            assert session.scalar(select(Account.login)) == "carol@app.localhost"
        stuck.setblocking(False)
        assert stuck.recv(256).startswith(b"mailcmd_")
        assert (folder / FOREIGN_SOCKET).exists()


async def test_a_channel_heard_here_too_hears_this_processes_commits_and_no_rollback(
    upgraded_url: str,
) -> None:
    database = open_database(upgraded_url)
    notifier = Notifier(database.engine)
    heard: asyncio.Queue[str] = asyncio.Queue()
    notifier.subscribe(Channel.RELAY_MAIL, lambda _: heard.put_nowait("relay"), here_too=True)
    notifier.subscribe(Channel.MAILBOX, heard.put_nowait)
    running = await start(notifier)
    try:
        if database.capabilities.notify:
            assert {await heard.get(), await heard.get()} == {"", "relay"}

        def announce_both(commit: bool) -> None:
            with database.writing() as session:
                announce(session, Channel.MAILBOX, "5")
                announce(session, Channel.RELAY_MAIL)
                session.commit() if commit else session.rollback()

        await asyncio.to_thread(announce_both, False)
        await asyncio.to_thread(announce_both, True)

        # PostgreSQL's NOTIFY comes back to its sender on every channel.
        expected = {"relay", "5"} if database.capabilities.notify else {"relay"}
        assert {await asyncio.wait_for(heard.get(), TIMEOUT) for _ in expected} == expected
        await asyncio.sleep(0)
        assert heard.empty()
    finally:
        await stop(notifier, running)
        database.close()
