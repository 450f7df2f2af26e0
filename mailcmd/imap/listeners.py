"""The IMAP ports: STARTTLS (`imap.port`) and implicit TLS (`imap.tls_port`)."""

import asyncio
import contextlib
import logging
import secrets
import ssl

from mailcmd.db.database import Database
from mailcmd.identity.logins import Authenticator
from mailcmd.imap.changes import MailboxEvents
from mailcmd.imap.command_loop import serve
from mailcmd.imap.connection import Connection, ConnectionClosed, Limits, LiteralBudget
from mailcmd.imap.kept_folders import KeptFolders
from mailcmd.imap.responses import BYE_BUSY, BYE_SHUTDOWN
from mailcmd.imap.session import ServerContext, Session
from mailcmd.net.listener_groups import (
    bound,
    listening_addresses,
    serving_names,
    stop_listening,
)
from mailcmd.net.tls import ServerTls
from mailcmd.operations.metrics.instruments import IMAP_SESSIONS, IMAP_SESSIONS_OPEN
from mailcmd.settings import Settings

log = logging.getLogger(__name__)

TLS_HANDSHAKE_SECONDS = 30.0


class ImapListeners:
    """The IMAP ports of this process and their open sessions (a `Service`)."""

    name = "imap"

    def __init__(
        self,
        settings: Settings,
        tls: ServerTls,
        authenticator: Authenticator,
        database: Database,
        events: MailboxEvents,
        kept_folders: KeptFolders | None = None,
    ) -> None:
        """Prepare every IMAP port that is not off; nothing listens until `start`.

        `kept_folders`, when the app declares folders, brings an account's up to
        date as it logs in and hears what its clients do in them.
        """
        imap = settings.imap
        self._settings = settings
        self._tls = tls
        self.context = ServerContext(
            settings=imap,
            max_message_size=settings.smtp.max_message_size,
            database=database,
            authenticator=authenticator,
            tls=tls,
            events=events,
            kept_folders=kept_folders,
        )
        self.budget = LiteralBudget(imap.max_literal_memory)
        self.servers: dict[str, asyncio.Server] = {}
        self.sessions: dict[Session, asyncio.Task[None]] = {}

    def addresses(self) -> dict[str, str]:
        """Return each listener's name and the `host:port` it listens on."""
        return listening_addresses(self.servers)

    def listening(self) -> set[str]:
        """The names of the listeners that accept connections now."""
        return serving_names(self.servers)

    async def start(self) -> None:
        """Listen on every IMAP port that is not off (on a free one where it is 0)."""
        imap = self._settings.imap
        host = imap.host or self._settings.smtp.host
        ports = self._settings.listener_ports()
        for name, context_for_port in (("imap", None), ("imaps", self._tls.context)):
            port = ports[name]
            if port is None:
                continue
            self.servers[name] = await bound(
                name,
                host,
                port,
                asyncio.start_server(
                    self.handle,
                    host=host,
                    port=port,
                    ssl=context_for_port,
                    ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS if context_for_port else None,
                    limit=imap.max_line_length,
                    reuse_address=True,
                ),
            )

    async def run(self) -> None:
        """Nothing: sessions are served as they come."""

    async def stop(self) -> None:
        """Stop accepting, then say goodbye to every open session and end it."""
        stop_listening(self.servers)
        await self._close_sessions()

    async def _close_sessions(self) -> None:
        """Say goodbye to every open session and end it."""
        for session, task in list(self.sessions.items()):
            with contextlib.suppress(Exception):
                session.connection.writer.write(BYE_SHUTDOWN + b"\r\n")
            task.cancel()
        if self.sessions:
            await asyncio.wait(list(self.sessions.values()), timeout=5.0)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection to its end."""
        settings = self.context.settings
        connection = Connection(
            reader,
            writer,
            Limits(
                max_line=settings.max_line_length,
                max_literal=settings.max_line_length,
                max_append_literal=self.context.max_message_size,
                literal_timeout=settings.literal_timeout,
                literal_min_rate=settings.literal_min_rate,
            ),
            self.budget,
        )
        if len(self.sessions) >= settings.max_connections:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await connection.respond(BYE_BUSY)
            await connection.close()
            return
        session = Session(connection, self.context)
        task = asyncio.current_task()
        assert task is not None
        self.sessions[session] = task
        IMAP_SESSIONS.inc()
        IMAP_SESSIONS_OPEN.inc()
        try:
            await serve(session)
        except (ConnectionClosed, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            reference = secrets.token_hex(6)
            log.exception("IMAP session failed (reference %s)", reference)
            with contextlib.suppress(Exception):
                await connection.respond(b"* BYE Internal error, reference " + reference.encode())
        finally:
            session.close()
            del self.sessions[session]
            IMAP_SESSIONS_OPEN.dec()
            await connection.close()
