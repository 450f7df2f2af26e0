"""A test client for app authors: real mail through the real path, replies back as messages.

`MailTestClient` runs a mailcmd server for a commands folder on a fresh database
(loopback ports, a development certificate, the worker in the same process), sends
mail with `smtplib` as a logged-in account or as a stranger from another server,
waits for the worker, and returns the SMTP verdict and the replies as their recipients
got them (see `MailTestClient.replies_to`)::

    with MailTestClient(Path("commands"), tmp_path) as mail:
        mail.add_account("alice@app.localhost")
        exchange = mail.send("tasks@app.localhost", "add Buy milk")
        assert exchange.replies[0]["Subject"].startswith("Task 1 added")

The pytest plugin (`mailcmd.testing.pytest_plugin`) offers it as the `mailcmd_client` fixture.
"""

import asyncio
import contextlib
import os
import smtplib
import ssl
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import and_, create_engine, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from mailcmd.addressing.reply_keys import account_holder, address_holder
from mailcmd.app.loading import schema_histories
from mailcmd.app.resources import bundled_path
from mailcmd.db.database import Database, open_database
from mailcmd.db.engine import database_url as driver_url
from mailcmd.db.engine import open_engine
from mailcmd.db.migrations import upgrade
from mailcmd.db.models import MailFolder, MailMessage, OutboundMessage
from mailcmd.db.queue_states import HELD, WAITING
from mailcmd.db.types import utc_now
from mailcmd.identity.accounts import create_account, generate_password, get_account
from mailcmd.identity.authenticity import DnsResolver, StaticResolver, TxtResolver
from mailcmd.imap.mailstore import INBOX, local_account_id
from mailcmd.message.flowed import decode_flowed
from mailcmd.message.raw_fields import header_fields
from mailcmd.outbound.delivery import NO_RELAY, Deliverer
from mailcmd.outbound.outbox import is_redacted
from mailcmd.runtime.attempts import Outcome
from mailcmd.runtime.server import Server
from mailcmd.runtime.worker import Worker
from mailcmd.settings import Settings
from mailcmd.testing.threaded_server import ThreadedServer

# Point this at an empty PostgreSQL database to run tests on PostgreSQL; each test
# then works in a schema of its own that is dropped afterwards.
TEST_DATABASE_ENV = "MAILCMD_TEST_DATABASE_URL"

# Every wait is bounded by this many seconds.
TIMEOUT = 30.0
DOMAIN = "app.localhost"


@dataclass(frozen=True)
class Exchange:
    """What one sent message led to."""

    code: int
    text: str
    queue_id: int | None
    outcome: Outcome | None
    replies: list[EmailMessage]

    @property
    def reply(self) -> EmailMessage:
        """The one reply; fails if there is not exactly one."""
        if len(self.replies) != 1:
            raise AssertionError(f"expected one reply, got {len(self.replies)}")
        return self.replies[0]

    @property
    def reply_text(self) -> str:
        """The text/plain body of the one reply, as `plain_text` reads it."""
        return plain_text(self.reply)


def plain_text(message: EmailMessage) -> str:
    """The text/plain body of `message` with `\n` line endings, as a reader sees it.

    Format=flowed text (as mailcmd sends) is unwrapped: one line per paragraph, as a
    flowed-aware client joins it before wrapping it to its window. Empty without a
    text/plain body.
    """
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        return ""
    text = str(body.get_content()).replace("\r\n", "\n")
    if body.get_param("format") == "flowed":
        return decode_flowed(text, delsp=body.get_param("delsp") == "yes")
    return text


class LoopbackSenders(StaticResolver):
    """Offline DNS where every domain's SPF record lets loopback send its mail, and no more.

    Mail the test client sends as a stranger then comes, as real mail does, from a
    server its domain vouches for, so that mailcmd answers it; no domain publishes
    DKIM keys or DMARC records.
    """

    def txt(self, name: str) -> list[str]:
        """Return loopback's SPF record for a domain; nothing for `_dmarc.` or `_domainkey.`."""
        if "_" in name:
            return []
        return ["v=spf1 ip4:127.0.0.1 ip6:::1 -all"]


class MailTestClient:
    """A running mailcmd for `commands`, with accounts made on demand, for tests."""

    def __init__(
        self,
        commands: Path,
        state_dir: Path,
        *,
        database_url: str | None = None,
        templates: Path | None = None,
        migrations: Path | None = None,
        settings: Mapping[str, Any] | None = None,
        resolver: TxtResolver | None = None,
    ) -> None:
        """Serve `commands` with state in `state_dir` (SQLite there unless `database_url`).

        The app's tables are made by its migrations (`migrations`, by default the
        folder beside `commands`), as `mailcmd db upgrade` makes them.

        Mail from other servers is judged with `resolver`; by default the
        `dns_resolver` of `settings` if given, else `LoopbackSenders`, so that tests
        never depend on the network.
        """
        self.settings = Settings(
            domain=DOMAIN,
            state_dir=state_dir,
            database_url=database_url or f"sqlite:///{state_dir / 'mailcmd.db'}",
            commands=commands,
            templates=templates or bundled_path("templates"),
            migrations=migrations,
            # Ports the system picks, read back from the running server: only the ones
            # the client sends on listen, unless `settings` asks for more (a table given
            # there replaces the client's own).
            **{
                "smtp": {
                    "host": "127.0.0.1",
                    "submission_port": None,
                    "smtps_port": 0,
                    "mx_port": 0,
                },
                "imap": {"port": None, "tls_port": None},
                **dict(settings or {}),
            },
        )
        self.passwords: dict[str, str] = {}
        self._resolver = resolver or (
            DnsResolver(self.settings.dns_resolver)
            if self.settings.dns_resolver
            else LoopbackSenders({})
        )
        self._database: Database | None = None
        self._threaded: ThreadedServer | None = None

    def __enter__(self) -> "MailTestClient":
        """Make the schema through mailcmd's migrations and the app's, start the server (and
        its worker) in a thread."""
        engine = open_engine(self.settings.database_url)
        try:
            for history in schema_histories(self.settings.commands, self.settings.app_migrations):
                upgrade(engine, history=history)
        finally:
            engine.dispose()
        self._database = open_database(self.settings.database_url)
        server = Server(self.settings, self._database, resolver=self._resolver, grace_seconds=1.0)
        threaded = ThreadedServer(server, TIMEOUT)
        threaded.start()
        self._threaded = threaded
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Stop the server and close the database.

        Raises `ServiceFailed` if a part of the server failed while it ran.
        """
        try:
            if self._threaded is not None:
                self._threaded.stop()
        finally:
            if self._database is not None:
                self._database.close()

    @property
    def ports(self) -> dict[str, int]:
        """Each listener's name (`submissions`, `mx`, `imaps`, ...) and the port it is bound to.

        The client listens on ports the system picks: submissions (implicit TLS) and
        MX, and any other listener `settings` asks port 0 for (`settings={"imap":
        {"port": "off", "tls_port": 0}}`: a table given replaces the client's own).
        """
        return self._running_server().ports

    @property
    def database(self) -> Database:
        """The test database (for arranging and checking the app's own tables)."""
        if self._database is None:
            raise RuntimeError("the client is not running")
        return self._database

    def add_account(
        self,
        login: str,
        *,
        password: str | None = None,
        roles: Iterable[str] = (),
        addresses: Iterable[str] = (),
    ) -> str:
        """Create an account and return its password (generated unless given)."""
        secret = password or generate_password()
        # A write transaction from the start: the running server writes meanwhile.
        with self.database.writing() as session:
            create_account(
                session,
                login,
                secret,
                addresses,
                roles,
                app_mailboxes=self._running_server().registry.mailboxes,
            )
            session.commit()
        self.passwords[login] = secret
        return secret

    def reply_address(
        self,
        mailbox: str,
        tag: str | int,
        *,
        login: str | None = None,
        expires: date | None = None,
    ) -> str:
        """The signed reply address of `mailbox` for `tag` that the app gives `login`.

        `login` defaults to the only account added; a stranger's address (one no
        account owns) gets the key mailcmd would give that address. With `expires`,
        the key acts until that day.
        """
        holder_login = login if login is not None else _only(self.passwords)
        if holder_login is None:
            raise ValueError("reply_address needs a login when there is not exactly one account")
        with self.database.sessions() as session:
            account = get_account(session, holder_login)
            owner = account.id if account is not None else local_account_id(session, holder_login)
        holder = address_holder(holder_login) if owner is None else account_holder(owner)
        keys = self._running_server().reply_keys.keys()
        return f"{mailbox}+{keys.sign(mailbox, str(tag), holder, expires)}@{DOMAIN}"

    def send(
        self,
        to: str,
        subject: str = "",
        body: str = "",
        *,
        sender: str | None = None,
        login: str | None = None,
        headers: Mapping[str, str] | None = None,
        message: EmailMessage | None = None,
        password: str | None = None,
    ) -> Exchange:
        """Send a mail and wait for the worker; return the verdict and the replies.

        With `login` (default: the only account added, if there is one) the mail is
        submitted after AUTH as that account, with `password` (default: the one it
        was added with; an app password, say); with `login=""` it arrives on the MX
        port from a stranger. `message` replaces the composed one entirely.
        """
        account = login if login is not None else _only(self.passwords)
        mail = message or self.compose(to, subject, body, sender or account or "", headers)
        envelope_from = sender or account or str(mail["From"])
        return self.send_raw(
            to,
            mail.as_bytes(policy=policy.SMTP),
            sender=envelope_from,
            login=account or "",
            password=password,
        )

    def send_raw(
        self, to: str, raw: bytes, *, sender: str, login: str = "", password: str | None = None
    ) -> Exchange:
        """Send `raw` exactly as it is (say, DKIM-signed) from envelope sender `sender`.

        With `login` it is submitted after AUTH as that account (with `password`, or
        the one it was added with); by default it arrives on the MX port, as mail
        from another server.
        """
        server = self._running_server()
        port = server.ports["submissions" if login else "mx"]
        secret = password if password is not None else self.passwords.get(login, "")
        try:
            code, text = self._submit(port, login or None, secret, sender, to, raw)
        except smtplib.SMTPResponseException as error:
            reply = error.smtp_error
            code, text = error.smtp_code, reply.decode() if isinstance(reply, bytes) else reply
        queue_id = _queue_id(code, text)
        if queue_id is None:
            return Exchange(code, text, None, None, [])
        outcome = self._call(_processed(server, queue_id, only_later=False))
        return Exchange(code, text, queue_id, outcome, self.replies_to(queue_id))

    def can_log_in(self, login: str, password: str) -> bool:
        """Whether the submission port accepts `login` with `password` right now.

        Successful logins are cached for `auth.cache_seconds`; set it to 0 to see a
        changed password take effect at once.
        """
        server = self._running_server()
        assert server.tls is not None
        port = server.ports["submissions"]
        context = ssl.create_default_context(cafile=str(server.tls.files.cert))
        with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as client:
            try:
                client.login(login, password)
            except smtplib.SMTPAuthenticationError:
                return False
            return True

    def wait(self, queue_id: int) -> Outcome:
        """Wait for the next time the worker finishes with `queue_id` (after a retry)."""
        server = self._running_server()
        result: Outcome = self._call(_processed(server, queue_id, only_later=True))
        return result

    def deliver(self) -> None:
        """Deliver what is due in the outbox now, and wait for any delivery in progress."""
        self._call(_delivered(self._running_server()))

    def compose(
        self, to: str, subject: str, body: str, sender: str, headers: Mapping[str, str] | None
    ) -> EmailMessage:
        """Build the plain-text mail `send` sends."""
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = to
        mail["Subject"] = subject
        mail["Message-ID"] = make_msgid(domain="client.test")
        for name, value in (headers or {}).items():
            mail[name] = value
        mail.set_content(body or "\n")
        return mail

    def replies_to(self, queue_id: int) -> list[EmailMessage]:
        """The mails that the message `queue_id` caused, as their recipients got them.

        They are read from the outbox, but for one thing: a mail that held a secret
        (from a mailbox declared `holds_secrets`) keeps only its header and a note
        there once delivered, so such a mail for a local account is read from that
        account's INBOX. One that left by the relay is returned as the outbox keeps
        it, whole until the relay takes it and redacted afterwards: read its text
        where the relay delivered it.
        """
        with self.database.sessions() as session:
            rows = session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.inbound_message_id == queue_id)
                .order_by(OutboundMessage.id)
            ).all()
            return [_parsed(_as_received(session, row)) for row in rows]

    def _submit(
        self,
        port: int,
        account: str | None,
        password: str,
        envelope_from: str,
        to: str,
        raw: bytes,
    ) -> tuple[int, str]:
        server = self._running_server()
        if account:
            assert server.tls is not None
            context = ssl.create_default_context(cafile=str(server.tls.files.cert))
            with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as client:
                client.login(account, password)
                return _data(client, envelope_from, to, raw)
        with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as client:
            return _data(client, envelope_from, to, raw)

    def _running_server(self) -> Server:
        if self._threaded is None:
            raise RuntimeError("the client is not running: use it in a `with` block")
        return self._threaded.server

    def _call(self, coroutine: Any) -> Any:
        if self._threaded is None:
            raise RuntimeError("the client is not running: use it in a `with` block")
        return self._threaded.call(coroutine)


async def _processed(server: Server, queue_id: int, *, only_later: bool) -> Outcome:
    """The worker's final outcome for `queue_id`: any remembered one, or `only_later` ones."""
    worker = server.service(Worker)
    outcomes = server.processing_outcomes
    after = outcomes.mark() if only_later else 0
    # The message may be waiting for the worker's next poll (a retry another process
    # asked for, say): look now.
    worker.wake()
    return await asyncio.wait_for(outcomes.wait(queue_id, after=after), TIMEOUT)


async def _delivered(server: Server) -> None:
    """Wait until the deliverer has tried every outbox message that is due or in progress."""
    deliverer = server.service(Deliverer)
    outcomes = server.delivery_outcomes
    # Taken before the look at the outbox, so that an attempt that ends in between
    # still counts.
    after = outcomes.mark()
    waiting = await asyncio.to_thread(_undelivered, server.database)
    deliverer.wake()
    tried = [outcomes.wait(outbound_id, after=after) for outbound_id in waiting]
    await asyncio.wait_for(asyncio.gather(*tried), TIMEOUT)


def _undelivered(database: Database) -> list[int]:
    """The outbox messages being relayed, or due and not waiting for a relay to be set up."""
    due = and_(
        OutboundMessage.status.in_(WAITING),
        OutboundMessage.next_attempt_at <= utc_now(),
        or_(OutboundMessage.last_error.is_(None), OutboundMessage.last_error != NO_RELAY),
    )
    with database.sessions() as session:
        return list(
            session.scalars(
                select(OutboundMessage.id).where(or_(due, OutboundMessage.status == HELD))
            )
        )


def _data(client: smtplib.SMTP, envelope_from: str, to: str, raw: bytes) -> tuple[int, str]:
    client.ehlo("client.test")
    for code, answer in (client.mail(envelope_from), client.rcpt(to)):
        if code >= 400:
            return code, answer.decode()
    code, answer = client.data(raw)
    return code, answer.decode()


def _queue_id(code: int, text: str) -> int | None:
    if code != 250 or "queued as " not in text:
        return None
    return int(text.rsplit(" ", 1)[1])


def _as_received(session: Session, outbound: OutboundMessage) -> bytes:
    """The bytes of `outbound` as its local recipient's INBOX holds them, if redacted here."""
    if not is_redacted(outbound) or outbound.message_id is None:
        return outbound.raw
    for rcpt in outbound.rcpt_tos:
        owner = local_account_id(session, rcpt)
        if owner is None:
            continue
        inbox = (
            select(MailMessage.raw)
            .join(MailFolder, MailMessage.folder_id == MailFolder.id)
            .where(MailFolder.account_id == owner, MailFolder.name == INBOX)
            .order_by(MailMessage.id.desc())
        )
        # Newest first: the mail was delivered moments ago, so the look is short.
        for raw in session.scalars(inbox):
            if outbound.message_id in header_fields(raw).get("message-id", []):
                return raw
    return outbound.raw


def _parsed(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _only(passwords: Mapping[str, str]) -> str | None:
    return next(iter(passwords)) if len(passwords) == 1 else None


@contextlib.contextmanager
def scratch_database_url(state_dir: Path) -> Iterator[str]:
    """Yield the URL of an empty database for the block: SQLite in `state_dir`, or with
    `MAILCMD_TEST_DATABASE_URL` set a PostgreSQL schema of its own, dropped afterwards."""
    base = os.environ.get(TEST_DATABASE_ENV)
    if not base:
        yield f"sqlite:///{state_dir / 'mailcmd.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(driver_url(base))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
