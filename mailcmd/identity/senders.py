"""Who a stored message acts for: a logged-in account, a verified sender, or nobody, and why."""

from sqlalchemy.orm import Session, joinedload

from mailcmd.app.context import Sender
from mailcmd.db.models import Account
from mailcmd.identity.verified_senders import confirmed_owner
from mailcmd.message import MessageView
from mailcmd.runtime.claims import ClaimedMessage

# Where the session keeps the sender's account while a message is processed.
SENDER_ACCOUNT = "mailcmd.sender_account"
# Loading an account loads its addresses with it; built once, used for every message.
_WITH_ADDRESSES = (joinedload(Account.addresses),)


def sender_of(session: Session, row: ClaimedMessage, view: MessageView) -> Sender:
    """Return who `row` acts for: the account that logged in to submit it, or else one.

    Mail from another server acts for the account whose confirmed address its
    DMARC-aligned From is. Anyone else is a stranger, with the reason in words when
    the mail came from another server, so that a refused command can say why.
    """
    address = row.mail_from or view.sender or ""
    proved_by = (row.auth_method or "password").partition(":")[0]
    if row.account_id is not None:
        account = session.get(Account, row.account_id, options=_WITH_ADDRESSES)
    elif row.verified_from is not None:
        proved_by = "verified-sender"
        # Mail from another server whose From passed DMARC alignment: it acts as
        # the account that confirmed that address, and answers go back to it.
        owner = confirmed_owner(session.connection(), row.verified_from)
        account = None if owner is None else session.get(Account, owner, options=_WITH_ADDRESSES)
        address = row.verified_from
    else:
        account = None
    if account is None or not account.enabled:
        return Sender(address=address, unverified=_unverified_reason(row, view))
    # The identity map holds objects weakly: a strong reference keeps the account in
    # it, so that a handler's lookups of the sender's account cost no query.
    session.info[SENDER_ACCOUNT] = account
    return Sender(
        address=address,
        account_id=account.id,
        login=account.login,
        roles=frozenset(account.roles),
        addresses=frozenset(entry.address for entry in account.addresses),
        proved_by=proved_by,
    )


def _unverified_reason(row: ClaimedMessage, view: MessageView) -> str | None:
    if row.authentication_results is None:
        return None  # not from the MX port: a submission without an account
    if row.verified_from is not None:
        return f"{row.verified_from} is not a confirmed address of any account here."
    checks = ", ".join(
        part.strip().split(" ")[0] for part in row.authentication_results.split(";")[1:]
    )
    author = view.sender or "its sender"
    return (
        f"This mail could not be verified as coming from {author} ({checks}): neither a"
        " DKIM signature nor SPF matched its From domain, so it acts for no account."
    )
