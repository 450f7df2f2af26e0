"""The mail a command or a scheduled job produces, rendered, before it is composed."""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from mailcmd.addressing.reply_keys import ReplyKeys, account_holder, address_holder
from mailcmd.app.actions import ActionLinks
from mailcmd.app.context import Notification, Reply, Sender
from mailcmd.app.rendering import Rendered, Renderer
from mailcmd.imap.mailstore import local_account_id
from mailcmd.message import Attachment, MessageView
from mailcmd.outbound.composing import reply_subject


@dataclass(frozen=True)
class Owner:
    """Whose the address a mail goes to is, as far as it is known: an account, or nobody here."""

    account_id: int | None


def owner_known_from(sender: Sender) -> Owner | None:
    """Whose `sender.address` is, when the worker knows without asking the database.

    An account's own address is the account's; a confirmed address at another domain
    is nobody's here (it never receives local delivery). A stranger's address could
    be anyone's: None, to be looked up.
    """
    if sender.account_id is None:
        return None
    return Owner(sender.account_id if sender.address in sender.addresses else None)


def owner_of(session: Session, address: str, known: Owner | None = None) -> Owner:
    """Whose `address` is: `known`, when it is, else the answer of one lookup."""
    return known if known is not None else Owner(local_account_id(session, address))


@dataclass
class OutgoingMail:
    """A mail to put in the outbox, rendered but not yet composed."""

    to: str
    rendered: Rendered
    subject: str
    from_local: str
    # The plain tag of its Reply-To (signed when composed: `tasks+42.KEY@`), so that
    # answering it continues the same object.
    tag: str | None
    # The message it answers, for threading; None for a notification.
    answering: MessageView | None
    # An automatic reply to the sender (counted for the hourly reply limit).
    is_reply: bool
    # It may carry a secret (it comes from a mailbox that holds secrets): the
    # outbox keeps only its header once it is delivered.
    holds_secret: bool = False
    # The last day its Reply-To acts (a confirmation's); None: until keys rotate.
    tag_expires: date | None = None
    # Files that go with it, after its text.
    attachments: tuple[Attachment, ...] = ()
    # It says that the hourly reply limit holds replies back (see `reply_policy`).
    reply_limit_notice: bool = False
    # Whose `to` is, when whoever made the mail knew it; None: looked up once, when queued.
    owner: Owner | None = None
    # The domain it comes from (its From, Message-ID and Reply-To): the one the mail
    # that caused it was written to; None: the default domain.
    domain: str | None = None
    # It answers a command that was refused (unreadable, unknown, or its handler's
    # CommandError): the message counts as refused, not done.
    refusal: bool = False


def answer_mail(
    sender: Sender,
    view: MessageView,
    from_local: str,
    rendered: Rendered,
    tag: str | None = None,
    tag_expires: date | None = None,
    files: tuple[Attachment, ...] = (),
) -> OutgoingMail:
    """The reply to `sender`'s message `view`, from `from_local@`, threaded under it, with
    `files` after its text."""
    return OutgoingMail(
        to=sender.address,
        rendered=rendered,
        subject=rendered.subject or reply_subject(view.subject),
        from_local=from_local,
        tag=tag,
        answering=view,
        is_reply=True,
        tag_expires=tag_expires,
        attachments=files,
        owner=owner_known_from(sender),
    )


def links_for(
    session: Session,
    keys: ReplyKeys,
    domain: str,
    *,
    mailbox: str,
    tag: str | None,
    to: str,
    account_id: int | None,
    expires: date | None = None,
    owner: Owner | None = None,
) -> ActionLinks:
    """The reply address and action links of a mail from `mailbox@` to `to`.

    They act for the one the mail goes to: `account_id`, the account the mail
    answers, when there is one; else the account that owns `to` (`owner`, when the
    caller knows it already); else the address. The Reply-To and every link of one
    mail come from here, so they always agree.
    """
    if account_id is None:
        account_id = owner_of(session, to, owner).account_id
    holder = address_holder(to) if account_id is None else account_holder(account_id)
    return ActionLinks(
        keys=keys, domain=domain, mailbox=mailbox, tag=tag, holder=holder, expires=expires
    )


# The value every reply template has: whether its text is one of several in a transcript,
# whose Reply-To is not its own (the mail has one, that of its last tagged reply).
IN_TRANSCRIPT = "in_transcript"


def render_reply(
    renderer: Renderer, reply: Reply, links: ActionLinks, *, in_transcript: bool = False
) -> Rendered:
    """Render `reply`'s template with `links` for its `action()`s, its own subject (if any)
    overriding the template's; the template sees `in_transcript` (unless a value of the
    reply has that name)."""
    values = {IN_TRANSCRIPT: in_transcript, **reply.values}
    rendered = renderer.render(reply.template, values, links)
    if reply.subject is not None:
        return Rendered(subject=reply.subject, text=rendered.text, html=rendered.html)
    return rendered


def notification_mail(
    session: Session,
    renderer: Renderer,
    keys: ReplyKeys,
    domain: str,
    notification: Notification,
    from_local: str,
) -> OutgoingMail:
    """The mail for `notification`, from its own mailbox or else `from_local`, its links
    made for its recipient."""
    sender = notification.from_mailbox or from_local
    owner = owner_of(session, notification.to)
    links = links_for(
        session,
        keys,
        domain,
        mailbox=sender,
        tag=notification.reply.tag,
        to=notification.to,
        account_id=None,
        owner=owner,
    )
    rendered = render_reply(renderer, notification.reply, links)
    return OutgoingMail(
        to=notification.to,
        rendered=rendered,
        subject=rendered.subject or f"From {sender}@",
        from_local=sender,
        tag=notification.reply.tag,
        answering=None,
        is_reply=False,
        attachments=notification.reply.attachments,
        owner=owner,
    )


def reply_limit_notice(
    renderer: Renderer, held_back: OutgoingMail, until: datetime, limit: int
) -> OutgoingMail:
    """The notice that goes in place of `held_back`: replies resume at `until`, UTC.

    It answers the same message, so it threads under it and is `auto-replied`.
    """
    values = {"until": until.astimezone(UTC).strftime("%Y-%m-%d %H:%M"), "limit": limit}
    rendered = renderer.render("mailcmd/reply-limit", values)
    return replace(
        held_back,
        rendered=rendered,
        subject=rendered.subject or held_back.subject,
        tag=None,
        reply_limit_notice=True,
    )
