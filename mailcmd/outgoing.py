"""Mail a command or a scheduled job produced, from rendering to a row in the outbox."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from mailcmd.context import Notification, Reply
from mailcmd.mailstore import local_account_id
from mailcmd.message import MessageView
from mailcmd.outbox import queue_mail
from mailcmd.rendering import Rendered, Renderer
from mailcmd.replies import compose
from mailcmd.reply_keys import ReplyKeys, account_holder, address_holder
from mailcmd.reply_policy import counted_address


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
    # It says that the hourly reply limit holds replies back (see `reply_policy`).
    reply_limit_notice: bool = False


def render_reply(renderer: Renderer, reply: Reply) -> Rendered:
    """Render `reply`'s template, its own subject (if any) overriding the template's."""
    rendered = renderer.render(reply.template, reply.values)
    if reply.subject is not None:
        return Rendered(subject=reply.subject, text=rendered.text, html=rendered.html)
    return rendered


def notification_mail(
    renderer: Renderer, notification: Notification, from_local: str
) -> OutgoingMail:
    """The mail for `notification`, from its own mailbox or else `from_local`."""
    sender = notification.from_mailbox or from_local
    rendered = render_reply(renderer, notification.reply)
    return OutgoingMail(
        to=notification.to,
        rendered=rendered,
        subject=rendered.subject or f"From {sender}@",
        from_local=sender,
        tag=notification.reply.tag,
        answering=None,
        is_reply=False,
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


def queue_outgoing(
    session: Session,
    mail: OutgoingMail,
    domain: str,
    keys: ReplyKeys,
    inbound_message_id: int | None = None,
    answers_account_id: int | None = None,
) -> None:
    """Compose `mail` from `from_local@domain` and put it in the outbox; the caller commits.

    A reply counts for its address's hourly budget, or for `answers_account_id`'s
    when the mail it answers acted for that account; a notification for its address's.
    A tag goes into the Reply-To signed with `keys` for the one the mail is for: the
    account it answers or notifies, else its address.
    """
    reply_to = None
    if mail.tag:
        if mail.is_reply and answers_account_id is not None:
            holder = account_holder(answers_account_id)
        else:
            owner = local_account_id(session, mail.to)
            holder = address_holder(mail.to) if owner is None else account_holder(owner)
        reply_to = f"{mail.from_local}+{keys.sign(mail.from_local, mail.tag, holder)}@{domain}"
    composed = compose(
        mail.rendered,
        from_address=f"{mail.from_local}@{domain}",
        to_address=mail.to,
        domain=domain,
        subject=mail.subject,
        reply_to=reply_to,
        answering=mail.answering,
        auto_submitted="auto-replied" if mail.answering is not None else "auto-generated",
    )
    queue_mail(
        session,
        composed,
        inbound_message_id=inbound_message_id,
        answers_address=counted_address(mail.to) if mail.is_reply else None,
        answers_account_id=answers_account_id if mail.is_reply else None,
        notifies_address=None if mail.is_reply else counted_address(mail.to),
        holds_secret=mail.holds_secret,
        reply_limit_notice=mail.reply_limit_notice,
    )
