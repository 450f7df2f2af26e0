"""Putting composed mail where it goes: a local INBOX at once, or the outbox for the relay.

Mail for a local account is delivered to its INBOX in the caller's transaction,
and kept in the outbox as done: it arrives exactly when (and only if) what caused
it commits, and no second transaction is needed. Mail for anyone else waits in
the outbox for the deliverer, which the session's commit wakes
(`Channel.RELAY_MAIL`). Core, not the ORM, on this path: it runs for every reply.
"""

import logging

from sqlalchemy import insert
from sqlalchemy.orm import Session

from mailcmd.addressing.reply_keys import ReplyKeys
from mailcmd.db.models import Base, OutboundMessage, QueueStatus
from mailcmd.db.notifier import Channel, announce
from mailcmd.imap.mailstore import deliver
from mailcmd.outbound.composing import ComposedMail, compose
from mailcmd.outbound.mails import OutgoingMail, Owner, links_for, owner_of
from mailcmd.outbound.outbox import without_secret
from mailcmd.runtime.reply_policy import counted_address

log = logging.getLogger(__name__)

# Built once and executed with each mail's values: it runs for every reply.
_OUTBOX = Base.metadata.tables[OutboundMessage.__tablename__]
_RECORD_IN_OUTBOX = insert(_OUTBOX).returning(_OUTBOX.c.id)


def queue_outgoing(
    session: Session,
    mail: OutgoingMail,
    domain: str,
    keys: ReplyKeys,
    inbound_message_id: int | None = None,
    answers_account_id: int | None = None,
) -> None:
    """Compose `mail` from `from_local@` its own domain, or else `domain` (the default),
    and deliver or queue it; the caller commits.

    A reply counts for its address's hourly budget, or for `answers_account_id`'s
    when the mail it answers acted for that account; a notification for its address's.
    A tag goes into the Reply-To signed with `keys` for the one the mail is for (see
    `links_for`). Whose `to` is is looked up at most once (not at all when the mail
    knows it already).
    """
    domain = mail.domain or domain
    owner = mail.owner
    reply_to = None
    if mail.tag:
        account_id = answers_account_id if mail.is_reply else None
        if account_id is None:
            owner = owner_of(session, mail.to, owner)
        links = links_for(
            session,
            keys,
            domain,
            mailbox=mail.from_local,
            tag=mail.tag,
            to=mail.to,
            account_id=account_id,
            expires=mail.tag_expires,
            owner=owner,
        )
        reply_to = links.address
    composed = compose(
        mail.rendered,
        from_address=f"{mail.from_local}@{domain}",
        to_address=mail.to,
        domain=domain,
        subject=mail.subject,
        reply_to=reply_to,
        answering=mail.answering,
        auto_submitted="auto-replied" if mail.answering is not None else "auto-generated",
        attachments=mail.attachments,
    )
    queue_mail(
        session,
        composed,
        owner=owner,
        inbound_message_id=inbound_message_id,
        answers_address=counted_address(mail.to) if mail.is_reply else None,
        answers_account_id=answers_account_id if mail.is_reply else None,
        notifies_address=None if mail.is_reply else counted_address(mail.to),
        holds_secret=mail.holds_secret,
        reply_limit_notice=mail.reply_limit_notice,
    )


def queue_mail(
    session: Session,
    mail: ComposedMail,
    *,
    owner: Owner | None = None,
    inbound_message_id: int | None = None,
    answers_address: str | None = None,
    answers_account_id: int | None = None,
    notifies_address: str | None = None,
    holds_secret: bool = False,
    reply_limit_notice: bool = False,
) -> None:
    """Deliver `mail` to its To's INBOX, or queue it for the relay; record it in the outbox.

    `owner` says whose its To is when the caller knows; else it is looked up. Every
    mail mailcmd sends is automatic, so it goes out with the null envelope sender
    (RFC 3834): no bounce of it can start a loop. `answers_address` (and
    `answers_account_id`, for an account) counts the mail as an automatic reply to
    that person, `notifies_address` as a notification, for the hourly limits. A
    mail that `holds_secret` keeps only its header in the outbox once it is
    delivered (at once, for a local account: its INBOX copy is whole). A
    `reply_limit_notice` is counted as that, not as a reply.
    """
    account_id = owner_of(session, mail.to, owner).account_id
    delivered = account_id is not None
    outbound_id = (
        session.connection()
        .execute(
            _RECORD_IN_OUTBOX,
            {
                "raw": without_secret(mail.raw) if delivered and holds_secret else mail.raw,
                "mail_from": "",
                "rcpt_tos": [mail.to],
                "inbound_message_id": inbound_message_id,
                "answers_address": answers_address,
                "answers_account_id": answers_account_id,
                "notifies_address": notifies_address,
                "message_id": mail.message_id[:255],
                "holds_secret": holds_secret,
                "reply_limit_notice": reply_limit_notice,
                "status": QueueStatus.DONE if delivered else QueueStatus.QUEUED,
                "trace_id": mail.trace_id,
            },
        )
        .scalar_one()
    )
    if account_id is not None:
        deliver(session, account_id, mail.to, mail.raw, f"outbound {outbound_id}")
    else:
        # The deliverers are woken by this commit, and by nothing else the worker commits.
        announce(session, Channel.RELAY_MAIL)
        log.info("outbound %d to %s queued for the relay", outbound_id, mail.to)


def deliver_locally(session: Session, address: str, raw: bytes, what: str) -> bool:
    """Deliver `raw`, the mail a log line calls `what`, to the INBOX of the account that
    owns `address`; False if none does."""
    owner = owner_of(session, address).account_id
    if owner is None:
        return False
    deliver(session, owner, address, raw, what)
    return True
