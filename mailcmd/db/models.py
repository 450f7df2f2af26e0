"""The framework's tables: accounts, app passwords, the inbound and outbound queues, mailboxes.

An app's tables subclass `Model` (exported as `mailcmd.Model`), which shares `Base`'s
metadata, so that an app's row can have a foreign key to `accounts.id`. The schema
has two Alembic histories all the same: the framework's covers `FRAMEWORK_TABLES`,
the app's the tables its own modules declare.
"""

import enum
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mailcmd.db.types import UTCDateTime, utc_now
from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError

# Constraint names that are the same on every engine, so that a migration can name
# (and on SQLite, batch-alter) any of them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Longest mail address SMTP can carry (RFC 5321's path limit, less the brackets).
ADDRESS_LENGTH = 254
# An IP address, or an IPv6 network in CIDR notation, as text.
CLIENT_LENGTH = 64
# A trace id (`mailcmd.operations.traces`).
TRACE_LENGTH = 16
# A folder action's object, `mailbox:key`: a local part and a plus-tag of 64 each.
FOLDER_OBJECT_LENGTH = 130


class Base(DeclarativeBase):
    """Declarative base of every mailcmd table; its metadata is what Alembic compares."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class TableNameError(MailcmdError):
    """An app's table takes a name already taken, by the framework or by another module."""

    exit_code = EXIT_BAD_SETTINGS


# The file whose module declared each of an app's tables, by table name. Not kept in
# `Table.info`, which autogenerate would copy into the app's revisions.
TABLE_PLACES: dict[str, str] = {}


class Model(Base):
    """Declarative base for an app's tables: the framework's column types, naming and metadata.

    A table may have a foreign key to `accounts.id` (the `Account` a row belongs to).
    Its name must be its own: a framework table's name, or one another module
    declares, raises `TableNameError`.
    """

    __abstract__ = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a table name that is taken before SQLAlchemy maps the class."""
        name = cls.__dict__.get("__tablename__")
        if isinstance(name, str):
            _refuse_taken_table_name(name)
        super().__init_subclass__(**kwargs)


def _refuse_taken_table_name(name: str) -> None:
    if name in FRAMEWORK_TABLES:
        raise TableNameError(f"table {name!r} is one of mailcmd's own tables: name yours otherwise")
    existing = Base.metadata.tables.get(name)
    if existing is not None:
        place = TABLE_PLACES.get(name, "the same module")
        raise TableNameError(f"table {name!r} is declared in {place} too")


class QueueStatus(enum.StrEnum):
    """Where a queued message stands; the same words for the inbound and outbound queues."""

    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    DEFERRED = "deferred"
    FAILED = "failed"


def _status_column() -> Mapped[QueueStatus]:
    return mapped_column(
        Enum(
            QueueStatus,
            name="queue_status",
            native_enum=False,
            length=16,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
        ),
        default=QueueStatus.QUEUED,
    )


class Account(Base):
    """A person (or robot) who logs in, owns addresses and holds roles."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_login_at: Mapped[datetime | None]

    addresses: Mapped[list["AccountAddress"]] = relationship(
        back_populates="account",
        cascade="all, delete-orphan",
        order_by="AccountAddress.address",
    )
    app_passwords: Mapped[list["AppPassword"]] = relationship(
        back_populates="account",
        cascade="all, delete-orphan",
        order_by="AppPassword.label",
    )
    external_addresses: Mapped[list["ExternalAddress"]] = relationship(
        back_populates="account",
        cascade="all, delete-orphan",
        order_by="ExternalAddress.address",
    )


class AccountAddress(Base):
    """A mail address owned by one account: it may send as it and receives mail for it."""

    __tablename__ = "account_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), unique=True)

    account: Mapped[Account] = relationship(back_populates="addresses")


class ExternalAddress(Base):
    """An address at another domain that an account sends commands from.

    Mail from it on the MX port acts as the account once the address is confirmed
    (its owner answered a confirmation code) and the mail's From passes DMARC
    alignment. It never receives local delivery: replies to it leave by the relay.
    """

    __tablename__ = "external_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), unique=True)
    # SHA-256 of the code mailed to the address; None once confirmed.
    code_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    code_sent_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    account: Mapped[Account] = relationship(back_populates="external_addresses")


class AppPassword(Base):
    """A labelled extra password for one client, revocable without touching the main one."""

    __tablename__ = "app_passwords"
    __table_args__ = (UniqueConstraint("account_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship(back_populates="app_passwords")


class InboundMessage(Base):
    """A message the receiver accepted (got its 250), waiting for or done by the worker."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        # Retention finds the texts it has still to drop without walking the rest.
        Index(None, "raw_dropped_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    mail_from: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    rcpt_tos: Mapped[list[str]]
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    client_address: Mapped[str] = mapped_column(String(64))
    helo: Mapped[str] = mapped_column(String(255))
    tls_protocol: Mapped[str | None] = mapped_column(String(32))
    tls_cipher: Mapped[str | None] = mapped_column(String(128))
    # How the account proved itself at AUTH: "password" or "app-password:<label>".
    auth_method: Mapped[str | None] = mapped_column(String(80))
    # On the MX port: the From address when DKIM or SPF passed aligned with it (DMARC),
    # and the verdict as it was written into the Authentication-Results field.
    verified_from: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    authentication_results: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(default=utc_now)
    status: Mapped[QueueStatus] = _status_column()
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When it failed for good: what the operator's alerts report, once.
    failed_at: Mapped[datetime | None] = mapped_column(index=True)
    # Set by the worker that claimed the message; its commit must still hold the claim.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None]
    # When retention dropped the text of the processed message: `raw` is empty from
    # then on, `size` still what it was; the envelope and the outcome stay.
    raw_dropped_at: Mapped[datetime | None]
    # Minted when its DATA was taken: on every log line about it and in every mail it
    # causes (see `mailcmd.operations.traces`). None for a message stored before traces existed.
    trace_id: Mapped[str | None] = mapped_column(String(TRACE_LENGTH), index=True)
    # Set when no client sent it: what a person did in an app folder, in words
    # ("flagged \"Buy milk\" in Tasks"), and the object it acts on, as
    # `mailbox:key`; its commands run as the person's mail to that object would.
    folder_action: Mapped[str | None] = mapped_column(String(255))
    folder_object: Mapped[str | None] = mapped_column(String(FOLDER_OBJECT_LENGTH))

    account: Mapped[Account | None] = relationship()


class OutboundMessage(Base):
    """A message mailcmd sends (a reply, a notification), waiting for or done by delivery."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        Index(None, "answers_address", "created_at"),
        Index(None, "answers_account_id", "created_at"),
        Index(None, "notifies_address", "created_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    mail_from: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    rcpt_tos: Mapped[list[str]]
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL"), index=True
    )
    # Its Message-ID, so that a copy coming back to mailcmd is recognised and not run.
    message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # The person an automatic reply answers, counted for the per-hour reply limit.
    answers_address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    # The account an automatic reply answers, when the mail it answers acted for one:
    # its hourly budget, apart from what strangers do in the name of its addresses.
    answers_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    # The local address a notification went to, counted for the per-hour notification limit.
    notifies_address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    # A notice that the hourly reply limit holds back replies to `answers_address`,
    # sent in place of the first reply held back: not counted as a reply itself, and
    # at most one an hour, so that it cannot become a loop of its own.
    reply_limit_notice: Mapped[bool] = mapped_column(default=False, server_default=false())
    # It carries a secret (a password, a confirmation code): once it is delivered or
    # has failed for good, `raw` keeps only its header and a note (see the outbox).
    holds_secret: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    status: Mapped[QueueStatus] = _status_column()
    attempts: Mapped[int] = mapped_column(default=0)
    # Once done or failed: when it was settled (see `outbox.settled`), for retention.
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When it failed for good: what the operator's alerts report, once.
    failed_at: Mapped[datetime | None] = mapped_column(index=True)
    # The trace it was made in, as its X-Mailcmd-Trace header says: the inbound
    # message's it answers, or one of its own. None for mail queued before traces
    # existed. Not indexed: the mail of a message is found by `inbound_message_id`.
    trace_id: Mapped[str | None] = mapped_column(String(TRACE_LENGTH))


class MailFolder(Base):
    """One folder of an account's mailbox (INBOX, Sent, ...), as the mailbox server shows it."""

    __tablename__ = "mail_folders"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    special_use: Mapped[str | None] = mapped_column(String(16))
    subscribed: Mapped[bool] = mapped_column(default=True)
    uid_validity: Mapped[int] = mapped_column(BigInteger)
    uid_next: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The app mailbox whose folder it is (`tasks`): its messages are a view of the
    # app's objects that mailcmd keeps, not mail a client may put there. None: the
    # account's own folder.
    kept_by: Mapped[str | None] = mapped_column(String(64))


class MailMessage(Base):
    """A message in a folder, with the UID, flags and internal date IMAP needs."""

    __tablename__ = "mail_messages"
    __table_args__ = (UniqueConstraint("folder_id", "uid"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    folder_id: Mapped[int] = mapped_column(ForeignKey("mail_folders.id", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[list[str]] = mapped_column(default=list)
    # IMAP's INTERNALDATE: when the message arrived in this mailbox.
    internal_at: Mapped[datetime] = mapped_column(default=utc_now)
    size: Mapped[int]
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # In an app folder: the object it shows (its key, the plus-tag of its Reply-To)
    # and a digest of the rendering, which tells a changed object from one to keep.
    object_key: Mapped[str | None] = mapped_column(String(64))
    view_digest: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(Base):
    """Recent failed logins for one login name from one client, and the lockout they led to."""

    __tablename__ = "login_throttles"
    __table_args__ = (Index(None, "first_failure_at"),)

    # The login as the client typed it, normalised; it need not name an account, so
    # that probing for logins is throttled too.
    login: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    # The client's address (an IPv6 client's /64). A lockout binds this pair only:
    # whoever knows a login must not be able to lock its owner out from elsewhere.
    client: Mapped[str] = mapped_column(String(CLIENT_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime] = mapped_column(default=utc_now)
    locked_until: Mapped[datetime | None]


class ProcessedMessage(Base):
    """A Message-ID already processed for one sender, so a resent copy is not run twice."""

    __tablename__ = "processed_messages"
    # Retention deletes the oldest first.
    __table_args__ = (Index(None, "processed_at"),)

    sender: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )
    processed_at: Mapped[datetime] = mapped_column(default=utc_now)


class ScheduleRun(Base):
    """The last slot of one scheduled job that ran: the claim that makes each slot run once."""

    __tablename__ = "schedule_runs"

    job: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_slot_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """One kind of operator alert: when it was last sent, and what it has reported so far.

    Locked by whoever sends the next one, so that workers sharing the database send
    one alert of a kind an hour between them.
    """

    __tablename__ = "alerts"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_sent_at: Mapped[datetime | None]
    # Failures up to this time are reported (or were there before alerts were).
    reported_until: Mapped[datetime | None]


class Confirmation(Base):
    """Commands waiting for their sender's confirming reply, kept exactly as first parsed.

    The reply goes to `<mailbox>+ok-<id>.KEY@`, signed for `holder` with an expiry
    day; the commands run once, on the first confirming reply before `expires_at`.
    """

    __tablename__ = "confirmations"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    mailbox: Mapped[str] = mapped_column(String(64))
    # The plain tag of the address the commands were sent to, handed to them again.
    tag: Mapped[str | None] = mapped_column(String(255))
    # Whom the confirmation acts for: the reply key's holder of the one who asked.
    holder: Mapped[str] = mapped_column(String(ADDRESS_LENGTH + 16))
    # The command lines, each `{"line": ..., "from_body": ...}`, parsed again as of
    # `asked_on`, so that `friday` or `+3d` mean the day they meant when written.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The text a command given in the subject reads (`ctx.body`).
    text: Mapped[str] = mapped_column(Text, default="")
    asked_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]


# Every table the framework's own history owns; an app's tables are the others.
FRAMEWORK_TABLES = frozenset(Base.metadata.tables)
