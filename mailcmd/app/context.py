"""What a handler receives and gives back: the context of one command, replies, errors."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailcmd.addressing.confirmation_tags import PREFIX, is_reserved
from mailcmd.errors import MailcmdError
from mailcmd.message import Attachment, MessageView

# A content type a reply's file may have: `type/subtype` in RFC 2045's token
# characters. Multipart and message types are mailcmd's own structure, never a file's.
_FILE_TYPE = re.compile(r"(?!multipart/|message/)[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", re.I)


class CommandError(MailcmdError):
    """The sender's mistake: nothing is retried, and the reply tells them this message."""


# Outside the MailcmdError family: a signal that stops the handler to ask, not a mistake.
class ConfirmationNeeded(Exception):
    """Raised by `Context.confirm` on a first mail: the handler stops, and the sender is asked.

    A handler must let it pass; one that catches it is stopped all the same (nothing
    it did is kept), since the context remembers that it asked.
    """


@dataclass(frozen=True)
class Sender:
    """The account a command runs for (logged in, or a verified sender), or a stranger."""

    address: str
    account_id: int | None = None
    login: str | None = None
    roles: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()
    # Mail from another server that acts for no account: why, in words for the sender.
    unverified: str | None = None
    # How the account proved itself: "password" or "app-password" (logged in), or
    # "verified-sender" (a confirmed address whose mail passed DMARC); None: no account.
    proved_by: str | None = None

    @property
    def is_account(self) -> bool:
        """Whether the sender is a verified account of this server."""
        return self.account_id is not None


@dataclass(frozen=True)
class Envelope:
    """How a message arrived, as the receiver saw it: beside what its header claims.

    A handler that takes an `Envelope` parameter gets it injected, as `Context` is.
    """

    # The SMTP MAIL FROM.
    mail_from: str
    # The IP address of the client that delivered it.
    client_address: str
    # Its From address, when DKIM or SPF aligned with that domain proved it (DMARC).
    verified_from: str | None = None


@dataclass(frozen=True)
class Reply:
    """A mail to send: rendered from `template` with `values`.

    `subject` overrides the template's; `tag` makes the Reply-To a plus-address
    (`tasks+42@`), so that answering it continues the same object; `attachments`
    go with it as files.
    """

    template: str
    values: Mapping[str, Any] = field(default_factory=dict)
    subject: str | None = None
    tag: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Notification:
    """A mail to another local address, sent through the same outbox as replies."""

    to: str
    reply: Reply
    # The mailbox it comes from; a command's notification comes from the command's.
    from_mailbox: str | None = None


@dataclass
class ScheduledContext:
    """One run of a scheduled job: its transaction, the time of its slot, and mail to send.

    The job's changes and its mail commit together, and only once per slot.
    """

    session: Session
    slot: datetime
    """The scheduled time this run is for (aware, UTC); `now` may be later after downtime."""
    now: datetime
    """The time the run started, aware, in the settings' time zone."""
    domain: str
    notifications: list[Notification] = field(default_factory=list)

    def send(
        self,
        to: str,
        template: str,
        *,
        mailbox: str,
        subject: str | None = None,
        tag: str | int | None = None,
        attachments: Iterable[Attachment] = (),
        **values: Any,
    ) -> None:
        """Queue a mail to `to`, from `mailbox@` (whose plus-tag `tag` answers continue).

        `attachments` go with it as files, as with `Context.reply`.
        """
        reply = _reply(template, values, subject, tag, attachments)
        self.notifications.append(Notification(to=to, reply=reply, from_mailbox=mailbox))


@dataclass
class Context:
    """One command's world: who asked, what they sent, the database, and replies to send.

    The session is the command's transaction: the handler's changes, its replies and
    the message's new status are committed together, or not at all.
    """

    sender: Sender
    session: Session
    message: MessageView
    mailbox: str
    address: str
    tag: str | None = None
    # The `timezone` setting: the zone scheduled jobs' times are in, for a reply that
    # says when one comes.
    timezone: str = "UTC"
    default_template: str | None = None
    # Overrides the message's text, e.g. empty for a command given as a body line.
    text: str | None = None
    replies: list[Reply] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    forget_requested: bool = False
    # True on the run a confirming reply started: `confirm` then lets the handler go on.
    confirmed: bool = False
    # What the handler asked the sender to confirm, on a run not yet confirmed.
    question: Reply | None = None
    # The handler chose to answer nothing (see `leave_unanswered`).
    unanswered: bool = False

    @property
    def domain(self) -> str:
        """The domain the mail was written to, as in `address`."""
        return self.address.rpartition("@")[2]

    def leave_unanswered(self) -> None:
        """Send no answer to this mail from a stranger, not even "done".

        For mail an answer would only amplify: past a rate limit, an answer is one
        more mail for whoever the stranger names. An account's mail is always
        answered, so for one this raises `ValueError`.
        """
        if self.sender.is_account:
            raise ValueError("an account's mail is always answered")
        self.unanswered = True

    def confirm(self, template: str, **values: Any) -> None:
        """Go on only once the sender has confirmed, by replying to the question.

        On the first mail this stops the handler: nothing it changed, replied or
        notified is kept, and the sender gets `template` rendered with `values` (say
        what would happen) with a one-time address that confirms. On the confirming
        reply it returns, and the handler runs again from the start with the same
        arguments, tag and text, and this time on.
        """
        if self.confirmed:
            return
        self.question = Reply(template=template, values=values)
        raise ConfirmationNeeded

    def forget_message(self) -> None:
        """Ask that the message's text not be kept once it is processed (it holds a secret).

        Its header stays in the queue for the operator; its body is replaced by a note.
        This holds even when the command then fails with a `CommandError`.
        """
        self.forget_requested = True

    @property
    def body(self) -> str:
        """The sender's new text: quoted replies and the signature stripped."""
        return self.message.new_text if self.text is None else self.text

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        """The message's attachments."""
        return self.message.attachments

    def reply(
        self,
        template: str | None = None,
        *,
        subject: str | None = None,
        tag: str | int | None = None,
        attachments: Iterable[Attachment] = (),
        **values: Any,
    ) -> None:
        """Queue a reply to the sender, rendered from `template` (default: the command's).

        `attachments` go with it as files (`Attachment("tasks.csv", "text/csv", data,
        charset="utf-8")`); several replies to one message are one mail with all
        their files. Raises TypeError at once for something that is not an
        `Attachment`, has no `type/subtype` content type or no bytes.
        """
        name = template or self.default_template
        if name is None:
            raise TypeError("ctx.reply() needs a template: the command declares none")
        self.replies.append(_reply(name, values, subject, tag, attachments))

    def notify(
        self,
        to: str,
        template: str,
        *,
        subject: str | None = None,
        tag: str | int | None = None,
        attachments: Iterable[Attachment] = (),
        **values: Any,
    ) -> None:
        """Queue a mail to the local address `to` (another account), e.g. about a shared task.

        `attachments` go with it as files, as with `reply`.
        """
        reply = _reply(template, values, subject, tag, attachments)
        self.notifications.append(Notification(to=to, reply=reply))


def _reply(
    template: str,
    values: Mapping[str, Any],
    subject: str | None,
    tag: str | int | None,
    attachments: Iterable[Attachment],
) -> Reply:
    if tag is not None and is_reserved(str(tag)):
        raise ValueError(f"tag {tag!r}: tags that start with {PREFIX!r} are mailcmd's own")
    files = tuple(attachments)
    for file in files:
        # Found here, the mistake's traceback points at the handler's line.
        if not isinstance(file, Attachment):
            raise TypeError(f"attachments=: expected an Attachment, got {type(file).__name__}")
        if not _FILE_TYPE.fullmatch(file.content_type):
            raise TypeError(f"attachments=: {file.content_type!r} is not a content type of a file")
        if not isinstance(file.data, bytes):
            raise TypeError(f"attachments=: the data of {file.filename!r} must be bytes")
    return Reply(
        template=template,
        values=values,
        subject=subject,
        tag=None if tag is None else str(tag),
        attachments=files,
    )
