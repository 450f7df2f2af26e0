"""Files and folders that hold secrets: readable by their owner only from the first byte.

The state folder holds the database (passwords' hashes, queued mail, app passwords
in replies until delivered), the TLS and DKIM keys and the demo password. Modes are
set as each thing is created, never after a secret is in it, and whatever the
process's umask.
"""

import os
from pathlib import Path

PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# The files SQLite keeps beside a database in WAL mode. SQLite gives them the
# database file's mode when it creates them; ones left by an older version are
# tightened with it.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_folder(path: Path) -> Path:
    """Create `path` and any missing parents with mode 0700; return `path`.

    A folder that exists already keeps its mode (it may be the operator's);
    `tighten_state_folder` is for the one folder mailcmd owns outright.
    """
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_FOLDER_MODE, exist_ok=True)
        os.chmod(folder, PRIVATE_FOLDER_MODE)
    return path


def tighten_state_folder(state_dir: Path) -> None:
    """Make the state folder (created if missing) accessible to its owner only."""
    private_folder(state_dir)
    os.chmod(state_dir, PRIVATE_FOLDER_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole, readable and writable by the owner only.

    Written under another name and renamed, so a reader never sees half a key, and
    a file that existed with a looser mode is replaced rather than reused.
    """
    private_folder(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite database file `path` (and its folder) private before SQLite opens it.

    An existing database and its WAL and shared-memory files are made private too.
    """
    private_folder(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
    finally:
        os.close(descriptor)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.chmod(companion, PRIVATE_FILE_MODE)
