"""One client's IMAP session: its state, its account and selected folder, and replies."""

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from mailcmd.db.database import Database
from mailcmd.errors import MailcmdError
from mailcmd.identity.logins import Authenticator
from mailcmd.imap import storage
from mailcmd.imap.changes import MailboxEvents
from mailcmd.imap.connection import Connection
from mailcmd.imap.kept_folders import KeptFolders
from mailcmd.imap.selection import Selection
from mailcmd.net.tls import ServerTls
from mailcmd.settings import ImapSettings

P = ParamSpec("P")
T = TypeVar("T")

BASE_CAPABILITIES = (
    "IMAP4rev1",
    "LITERAL-",
    "SASL-IR",
    "ID",
    "NAMESPACE",
    "IDLE",
    "UIDPLUS",
    "MOVE",
    "UNSELECT",
    "SPECIAL-USE",
    "CHILDREN",
)


class State(enum.Enum):
    """Where a session stands (RFC 3501 section 3)."""

    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


@dataclass(frozen=True)
class Done:
    """A command's tagged completion: its condition (OK, NO or BAD), an optional code, and text."""

    condition: str
    text: str
    code: str = ""

    def line(self, tag: str) -> bytes:
        """The tagged response line."""
        code = f"[{self.code}] " if self.code else ""
        return f"{tag} {self.condition} {code}{self.text}".encode()


# A completion already written by the command itself (STARTTLS), or none at all.
SENT = Done("", "")


class ImapRefusal(MailcmdError):
    """A command that cannot be done: it completes with NO (and a code, if given)."""

    def __init__(self, text: str, code: str = "") -> None:
        """Refuse with `text` and the optional response `code`."""
        super().__init__(text)
        self.done = Done("NO", text, code)


@dataclass(frozen=True)
class ServerContext:
    """What every session of a listener shares."""

    settings: ImapSettings
    max_message_size: int
    database: Database
    authenticator: Authenticator
    tls: ServerTls
    events: MailboxEvents
    # Keeps the app folders (see `mailcmd.runtime.folder_keeper`): shows them at login,
    # hears what clients do in them; None when the app declares no folder.
    kept_folders: KeptFolders | None = None


class Session:
    """The state of one connection; the commands (see `dispatch`) act on it."""

    def __init__(self, connection: Connection, context: ServerContext) -> None:
        """Start a session on `connection`, not yet logged in."""
        self.connection = connection
        self.context = context
        self.state = State.NOT_AUTHENTICATED
        self.account_id: int | None = None
        self.login: str | None = None
        self.selected: Selection | None = None
        self.changed: asyncio.Event | None = None

    @property
    def database(self) -> Database:
        """The database of the mailboxes."""
        return self.context.database

    def capabilities(self) -> str:
        """The CAPABILITY list for the session's current state."""
        names = list(BASE_CAPABILITIES)
        names.append(f"APPENDLIMIT={self.context.max_message_size}")
        if self.context.settings.quota:
            names += ["QUOTA", "QUOTA=RES-STORAGE"]
        if self.state is State.NOT_AUTHENTICATED:
            if self.connection.encrypted:
                names.append("AUTH=PLAIN")
            else:
                names += ["STARTTLS", "LOGINDISABLED"]
        return " ".join(names)

    def account(self) -> int:
        """The logged-in account's id."""
        assert self.account_id is not None
        return self.account_id

    def selection(self) -> Selection:
        """The selected folder."""
        assert self.selected is not None
        return self.selected

    async def run_storage(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a storage function in a thread; its refusals become `ImapRefusal`."""
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except storage.StorageRefusal as refusal:
            raise ImapRefusal(str(refusal), refusal.code) from None

    def logged_in(self, account_id: int, login: str) -> None:
        """Enter the authenticated state as `login`."""
        self.account_id = account_id
        self.login = login
        self.state = State.AUTHENTICATED
        self.connection.logged_in = True
        self.changed = self.context.events.register(account_id)

    def announce(self) -> None:
        """Tell the account's other sessions that its mail changed."""
        if self.account_id is not None:
            self.context.events.wake(self.account_id)

    async def catch_up(self) -> None:
        """Tell the client what changed in the selected folder since it last heard."""
        if self.selected is None:
            return
        snapshot = await asyncio.to_thread(storage.snapshot, self.database, self.selected.folder_id)
        lines = self.selected.sync(snapshot)
        if lines:
            await self.connection.respond(*lines)

    def close(self) -> None:
        """Forget the session's registrations."""
        if self.account_id is not None and self.changed is not None:
            self.context.events.unregister(self.account_id, self.changed)
        self.state = State.LOGOUT
