"""New app projects: `mailcmd new` writes the scaffold, a small working app, into a folder."""

import shutil
import string
from datetime import datetime
from pathlib import Path

from alembic.util import rev_id

from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError

# The scaffold's files are package data. Those named `*.tmpl` are `string.Template`
# texts, written without the suffix; every path is one too (the first revision's
# file name holds its id). The rest are copied as they are.
SCAFFOLD = Path(__file__).resolve().parent / "scaffold"
TEMPLATE_SUFFIX = ".tmpl"


class ProjectFolderError(MailcmdError):
    """The folder cannot take a new project: it holds something, or is not a folder."""

    exit_code = EXIT_BAD_SETTINGS


def create_project(folder: Path) -> list[Path]:
    """Write a new app into `folder` (made if missing) and return the files written.

    The app's first revision gets a fresh id and the current date, as if
    `mailcmd db revision` had just written it. A folder that holds anything is
    refused with `ProjectFolderError`, so that nothing is ever overwritten.
    """
    if folder.exists() and not folder.is_dir():
        raise ProjectFolderError(f"{folder} is a file: name a new or empty folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise ProjectFolderError(f"{folder} is not empty: name a new or empty folder")
    values = {
        "name": folder.resolve().name,
        "revision": rev_id(),
        # Alembic's own format for a revision's Create Date.
        "create_date": str(datetime.now()),
    }
    written = []
    for source in sorted(SCAFFOLD.rglob("*")):
        # Installing mailcmd compiles the scaffold's modules; the bytecode is not the app's.
        if not source.is_file() or "__pycache__" in source.parts:
            continue
        relative = string.Template(source.relative_to(SCAFFOLD).as_posix()).substitute(values)
        target = folder / relative.removesuffix(TEMPLATE_SUFFIX)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == TEMPLATE_SUFFIX:
            text = string.Template(source.read_text(encoding="utf-8")).substitute(values)
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(source, target)
        written.append(target)
    return written
