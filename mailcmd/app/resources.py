"""Where the folders that ship with mailcmd (commands, templates, migrations) live."""

from pathlib import Path
from typing import Literal

BundledFolder = Literal["commands", "templates", "migrations"]

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def bundled_path(name: BundledFolder) -> Path:
    """Return the folder `name` as installed with this copy of mailcmd.

    A wheel carries the folders inside the package (`mailcmd/_bundled/`); a source
    checkout or an editable install has them beside the package.
    """
    installed = _PACKAGE_DIR / "_bundled" / name
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / name
