"""Clients for the mailbox server in tests: imaplib over real TLS, and raw bytes."""

import imaplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from mailcmd.db.database import open_database
from mailcmd.imap.mailstore import append, local_account_id
from tests.conftest import ALICE, PASSWORD, StartServer
from tests.servers import TIMEOUT, RawSocket, RunningServer

MESSAGE = (
    b"From: Bob Example <bob@example.org>\r\n"
    b"To: alice@app.localhost\r\n"
    b"Subject: Hello there\r\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <hello@example.org>\r\n"
    b"\r\n"
    b"Just saying hello.\r\n"
)

Connect = Callable[..., imaplib.IMAP4]


def fetched_message(client: imaplib.IMAP4, number: str | bytes) -> EmailMessage:
    """The message `number` (a sequence number, or `*`) of the selected folder, parsed."""
    _, data = client.fetch(
        number.decode() if isinstance(number, bytes) else number, "(BODY.PEEK[])"
    )
    raw = data[0]
    assert isinstance(raw, tuple)
    message = message_from_bytes(raw[1], policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


LOGIN = b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode())


@pytest.fixture
def imap_server(start_server: StartServer) -> RunningServer:
    """A running server (no worker) with small IMAP limits; alice and a disabled bob."""
    return start_server(
        max_message_size=65536,
        imap={"max_line_length": 4096, "check_seconds": 0.2},
    )


@pytest.fixture
def imap_connect(imap_server: RunningServer) -> Iterator[Connect]:
    """Open imaplib clients on the server (implicit TLS by default); closed at the end."""
    opened: list[imaplib.IMAP4] = []

    def open_client(starttls: bool = False, login: bool = True) -> imaplib.IMAP4:
        client = imap_client(imap_server, starttls=starttls)
        opened.append(client)
        if login:
            client.login(ALICE, PASSWORD)
        return client

    yield open_client
    for client in opened:
        with suppress(OSError):
            client.shutdown()


def imap_client(server: RunningServer, starttls: bool = False) -> imaplib.IMAP4:
    """An imaplib client: on the STARTTLS port after STARTTLS, or on the implicit-TLS port."""
    context = server.tls_client_context
    if starttls:
        client = imaplib.IMAP4("127.0.0.1", server.port("imap"), timeout=TIMEOUT)
        client.starttls(ssl_context=context)
        return client
    return imaplib.IMAP4_SSL(
        "127.0.0.1", server.port("imaps"), ssl_context=context, timeout=TIMEOUT
    )


def deliver(server: RunningServer, raw: bytes = MESSAGE, folder: str = "INBOX") -> int:
    """Store `raw` in alice's folder as local delivery does, and wake the sessions; the UID."""
    database = open_database(server.settings.database_url)
    try:
        with database.writing() as session, session.begin():
            account_id = local_account_id(session, ALICE)
            assert account_id is not None
            uid = append(session, account_id, folder, raw)
    finally:
        database.close()
    server.loop.call_soon_threadsafe(server.server.mailbox_events.wake)
    return uid


class RawImap(RawSocket):
    """A byte-level IMAP client for what imaplib will not send."""

    def __init__(self, port: int, tls_context: ssl.SSLContext | None = None) -> None:
        """Connect to 127.0.0.1:`port` (through TLS at once if `tls_context`), read the greeting."""
        super().__init__(port, tls_context)
        # Whether the server closed the connection (an empty line is not that).
        self.closed = False
        self.greeting = self.line()

    def line(self) -> bytes:
        """Read one line without its CRLF; b'' if the server closed."""
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                return b""
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def until_tagged(self, tag: bytes) -> list[bytes]:
        """Read lines up to and including the one tagged `tag` (or the server's close)."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if self.closed or line.startswith(tag + b" "):
                return lines

    def command(self, tag: bytes, text: bytes) -> list[bytes]:
        """Send `tag text` and return the response lines."""
        self.send(tag + b" " + text + b"\r\n")
        return self.until_tagged(tag)


@contextmanager
def raw_imap(port: int, tls_context: ssl.SSLContext | None = None) -> Iterator[RawImap]:
    """A `RawImap` closed at the end of the block."""
    client = RawImap(port, tls_context)
    try:
        yield client
    finally:
        client.close()


def idling(client: RawImap) -> None:
    """Log in as alice, select INBOX and start IDLE (tag `a3`)."""
    assert client.command(b"a1", LOGIN)[-1].startswith(b"a1 OK")
    assert client.command(b"a2", b"SELECT INBOX")[-1].startswith(b"a2 OK")
    client.send(b"a3 IDLE\r\n")
    assert client.line() == b"+ idling"


def finish_idle(client: RawImap) -> list[bytes]:
    """End the IDLE that `idling` began; return the lines up to its tagged answer."""
    client.send(b"DONE\r\n")
    return client.until_tagged(b"a3")
