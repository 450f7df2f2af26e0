"""Whom the worker answers, and how often: no backscatter, never silent to an account.

Mail on the MX port names its reply address itself, so a stranger could make
mailcmd mail anyone (backscatter). A reply goes out only when the reply address's
domain vouched for the mail: SPF passed for it, or a DKIM signature of it (or of
its organisation) verified.

An account (logged in, or a verified sender) gets a reply to every command: its
pace is braked at SMTP time, where the client hears a 451 and tries again. The
hourly reply limit is a brake on strangers and loops; the first reply it holds
back from an address in an hour is replaced by one notice saying until when, and
the rest of that hour's are held back silently. Budgets count a person, not a
spelling: addresses are normalised, and strangers' mail that claims an account's
address is counted as a stranger's.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from mailcmd.addressing.addresses import InvalidAddressError, normalise_address
from mailcmd.app.context import Sender
from mailcmd.db.models import OutboundMessage
from mailcmd.db.types import utc_now
from mailcmd.identity.authenticity import organizational_domain
from mailcmd.runtime.claims import ClaimedMessage
from mailcmd.settings import WorkerSettings

WINDOW = timedelta(hours=1)

# The counts the policy takes, built once: they are asked for every mail the worker
# sends that is not an account's reply, with the address and the hour's start.
_COUNTED = select(func.count()).select_from(OutboundMessage)
_NOTIFIED = _COUNTED.where(
    OutboundMessage.notifies_address == bindparam("address"),
    OutboundMessage.created_at >= bindparam("since"),
)
# Strangers share one budget per address, whatever account's address they claim.
_STRANGERS = and_(
    OutboundMessage.answers_address == bindparam("address"),
    OutboundMessage.answers_account_id.is_(None),
    OutboundMessage.created_at >= bindparam("since"),
)
_STRANGER_REPLIES = and_(_STRANGERS, OutboundMessage.reply_limit_notice.is_(False))
_REPLIED = _COUNTED.where(_STRANGER_REPLIES)
_NOTICED = _COUNTED.where(_STRANGERS, OutboundMessage.reply_limit_notice.is_(True))


@dataclass(frozen=True)
class HeldBack:
    """A mail the policy holds back, and why, in words for the operator."""

    reason: str
    # Set for the first reply the hourly limit holds back from an address in an
    # hour: a notice goes in its place, saying replies resume at this time (UTC).
    notice_until: datetime | None = None


def held_back(
    session: Session,
    row: ClaimedMessage,
    sender: Sender,
    to: str,
    is_reply: bool,
    limits: WorkerSettings,
) -> HeldBack | None:
    """Return why the mail to `to` that `row` caused must not go out; None if it may.

    `is_reply` tells an answer to `sender` from a notification of someone else.
    """
    since = utc_now() - WINDOW
    if not is_reply:
        notified = {"address": counted_address(to), "since": since}
        if (session.scalar(_NOTIFIED, notified) or 0) >= limits.notification_rate_limit:
            return HeldBack("over the hourly notification limit")
        return None
    backscatter = backscatter_reason(row, to)
    if backscatter is not None:
        return HeldBack(backscatter)
    if sender.is_account:
        return None
    theirs = {"address": counted_address(to), "since": since}
    sent = session.scalar(_REPLIED, theirs) or 0
    limit = limits.reply_rate_limit
    if sent < limit:
        return None
    reason = f"over the hourly reply limit ({limit} an hour to an address of no account)"
    if session.scalar(_NOTICED, theirs):
        return HeldBack(f"{reason}; its notice went earlier in the hour")
    # Replies resume once enough of the hour's have aged out of it.
    freed = session.scalar(
        select(OutboundMessage.created_at)
        .where(_STRANGER_REPLIES)
        .order_by(OutboundMessage.created_at)
        .offset(sent - limit)
        .limit(1),
        theirs,
    )
    until = (freed or utc_now()) + WINDOW
    return HeldBack(f"{reason}; a notice went instead", notice_until=until)


def counted_address(address: str) -> str:
    """Return `address` as budgets count it: normalised, or at least lower case and bounded."""
    try:
        return normalise_address(address)
    except InvalidAddressError:
        return address.strip().lower()[:254]


def backscatter_reason(row: ClaimedMessage, reply_address: str) -> str | None:
    """Return why answering `row` at `reply_address` would be backscatter; None if it would not.

    Mail that did not come on the MX port (a logged-in submission) is always
    answered; so is mail whose DMARC-verified From is the reply address.
    """
    results = row.authentication_results
    if results is None:
        return None
    address = counted_address(reply_address)
    if row.verified_from is not None and address == row.verified_from:
        return None
    domain = address.rpartition("@")[2]
    checks = _passed_checks(results)
    if checks.get("spf") == domain:
        return None
    signer = checks.get("dkim")
    if signer is not None and organizational_domain(signer) == organizational_domain(domain):
        return None
    return (
        f"neither SPF nor a DKIM signature vouched for {domain}, so {address} may not be its sender"
    )


def _passed_checks(results: str) -> dict[str, str]:
    """The domain each passing method vouched for, read from mailcmd's own Authentication-Results.

    `app.example; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=example.org; ...`
    gives `{"dkim": "example.org", "spf": "example.org"}`. SPF for the HELO name
    (`smtp.helo`) vouches for no address.
    """
    passed: dict[str, str] = {}
    for part in results.split(";")[1:]:
        words = part.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        if result != "pass":
            continue
        for word in words[1:]:
            name, _, value = word.partition("=")
            if (method, name) in (("dkim", "header.d"), ("spf", "smtp.mailfrom")):
                passed[method] = value.strip('"').lower()
    return passed
