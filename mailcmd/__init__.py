"""mailcmd: email as an application's user interface.

An app imports what it needs from here, and from nothing below: the declaration
(`MailApp`), what a handler receives and gives back (`Context`, `ScheduledContext`,
`Sender`, `Envelope`, `Attachment`, `Reply`, `CommandError`, `Help`), what a folder's
function receives and returns (`FolderContext`, `FolderItem`), files as arguments and
replies (`Accepts`, `Csv`, `csv_attachment`), its tables (`Model`, with
`Account` to point at and `utc_now` for timestamps), the account operations the
bundled `account@` app offers, and for its tests the `MailTestClient` and the
`Exchange` it returns. Internal modules stay importable, but only these names are
the promise.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailcmd.app.context import CommandError as CommandError
    from mailcmd.app.context import Context as Context
    from mailcmd.app.context import Envelope as Envelope
    from mailcmd.app.context import Reply as Reply
    from mailcmd.app.context import ScheduledContext as ScheduledContext
    from mailcmd.app.context import Sender as Sender
    from mailcmd.app.exports import csv_attachment as csv_attachment
    from mailcmd.app.folders import FolderContext as FolderContext
    from mailcmd.app.folders import FolderItem as FolderItem
    from mailcmd.app.registry import MailApp as MailApp
    from mailcmd.db.models import Account as Account
    from mailcmd.db.models import Model as Model
    from mailcmd.db.types import utc_now as utc_now
    from mailcmd.identity.accounts import AccountError as AccountError
    from mailcmd.identity.accounts import add_app_password as add_app_password
    from mailcmd.identity.accounts import get_account as get_account
    from mailcmd.identity.accounts import revoke_app_password as revoke_app_password
    from mailcmd.identity.accounts import set_password as set_password
    from mailcmd.message import Attachment as Attachment
    from mailcmd.parsing import Accepts as Accepts
    from mailcmd.parsing import Csv as Csv
    from mailcmd.parsing import Help as Help
    from mailcmd.testing import Exchange as Exchange
    from mailcmd.testing import MailTestClient as MailTestClient

__version__ = "0.1.0"

# Where each public name lives. They are imported on first use, so that `import
# mailcmd` (which the CLI, `python -m mailcmd` and every submodule import pay for)
# loads neither SQLAlchemy nor, for an app that never tests, a whole server.
_HOMES = {
    "Accepts": "mailcmd.parsing",
    "Account": "mailcmd.db.models",
    "AccountError": "mailcmd.identity.accounts",
    "Attachment": "mailcmd.message",
    "CommandError": "mailcmd.app.context",
    "Context": "mailcmd.app.context",
    "Csv": "mailcmd.parsing",
    "Envelope": "mailcmd.app.context",
    "Exchange": "mailcmd.testing",
    "FolderContext": "mailcmd.app.folders",
    "FolderItem": "mailcmd.app.folders",
    "Help": "mailcmd.parsing",
    "MailApp": "mailcmd.app.registry",
    "MailTestClient": "mailcmd.testing",
    "Model": "mailcmd.db.models",
    "Reply": "mailcmd.app.context",
    "ScheduledContext": "mailcmd.app.context",
    "Sender": "mailcmd.app.context",
    "add_app_password": "mailcmd.identity.accounts",
    "csv_attachment": "mailcmd.app.exports",
    "get_account": "mailcmd.identity.accounts",
    "revoke_app_password": "mailcmd.identity.accounts",
    "set_password": "mailcmd.identity.accounts",
    "utc_now": "mailcmd.db.types",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    """Return the public name `name` from the module it lives in; other names do not exist."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mailcmd' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
