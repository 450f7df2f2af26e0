"""Addresses at other domains that accounts send commands from, confirmed by a mail round trip.

An operator declares `alice@example.org` for the account alice; mailcmd mails a code
to it, and the address is confirmed when its owner answers with the code. From then
on, mail on the MX port whose From is that address, and passes DMARC alignment, acts
as alice. Codes are stored only as SHA-256 digests and expire.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session, joinedload

from mailcmd.addressing.addresses import InvalidAddressError, normalise_address
from mailcmd.addressing.domains import domain_of, is_ours
from mailcmd.app.rendering import Renderer
from mailcmd.db.models import AccountAddress, ExternalAddress
from mailcmd.db.types import utc_now
from mailcmd.identity.accounts import AccountError, get_account
from mailcmd.outbound.composing import compose
from mailcmd.outbound.mails import Owner
from mailcmd.outbound.queueing import queue_mail

# The mailbox the code is answered at (see `mailcmd.app.builtin_mailboxes.confirm`).
CONFIRM_ADDRESS = "confirm"

CODE_LIFETIME = timedelta(days=7)
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_CODE_LETTERS = frozenset(_CODE_ALPHABET)
CODE_LENGTH = 10
# Where `codes_in` looks, and how many codes one mail may try.
CODE_SEARCH_LINES = 5
CODE_SEARCH_CHARACTERS = 2000
MAX_CODE_CANDIDATES = 5


@dataclass(frozen=True)
class PendingConfirmation:
    """An address waiting for its owner's answer, and the code that was mailed to it."""

    login: str
    address: str
    code: str


def add_external_address(
    session: Session, login: str, address: str, domains: tuple[str, ...]
) -> PendingConfirmation:
    """Declare `address` as one `login` sends from, unconfirmed, with a fresh code.

    Declaring it again (while unconfirmed) replaces the code. Raises `AccountError`
    for an unknown login, an invalid address, an address at one of this server's
    `domains`, or one another account has declared.
    """
    account = get_account(session, login)
    try:
        normalised = normalise_address(address)
    except InvalidAddressError as error:
        raise AccountError(str(error)) from None
    if is_ours(normalised, domains):
        raise AccountError(
            f"{normalised} is in this server's domain {domain_of(normalised)}:"
            " give it with `users add --address`"
        )
    owned = session.scalar(select(AccountAddress.id).where(AccountAddress.address == normalised))
    if owned is not None:
        raise AccountError(f"{normalised} belongs to a local account")
    entry = session.scalar(select(ExternalAddress).where(ExternalAddress.address == normalised))
    if entry is not None and entry.account_id != account.id:
        raise AccountError(f"{normalised} is declared by another account")
    if entry is not None and entry.confirmed_at is not None:
        raise AccountError(f"{normalised} is already confirmed for {account.login}")
    if entry is None:
        entry = ExternalAddress(account_id=account.id, address=normalised)
        session.add(entry)
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
    entry.code_hash = _digest(code)
    entry.code_sent_at = utc_now()
    session.flush()
    return PendingConfirmation(login=account.login, address=normalised, code=code)


def queue_confirmation(
    session: Session, renderer: Renderer, pending: PendingConfirmation, domain: str
) -> None:
    """Put the mail asking `pending.address` to answer with its code in the outbox.

    It holds a secret: once delivered, the outbox keeps only its header, without
    the code (which is also in its Subject and its Reply-To).
    """
    rendered = renderer.render(
        "mailcmd/confirm-address",
        {
            "login": pending.login,
            "address": pending.address,
            "code": pending.code,
            "domain": domain,
            "days": CODE_LIFETIME.days,
        },
    )
    mail = compose(
        rendered,
        from_address=f"{CONFIRM_ADDRESS}@{domain}",
        to_address=pending.address,
        domain=domain,
        subject=rendered.subject or f"Confirm {pending.address} for {domain}",
        reply_to=f"{CONFIRM_ADDRESS}+{pending.code}@{domain}",
        auto_submitted="auto-generated",
    )
    # The code is the key to the account's name: the outbox forgets it once sent.
    # The address is at another domain (`add_external_address` refuses ours), so
    # it is nobody's here and leaves by the relay.
    queue_mail(session, mail, owner=Owner(None), holds_secret=True)


def confirm_external_address(session: Session, address: str, code: str) -> ExternalAddress | None:
    """Confirm `address` if `code` is the one mailed to it and has not expired.

    Returns the confirmed entry, or None when the code does not match this address.
    """
    entry = session.scalar(
        select(ExternalAddress)
        .where(ExternalAddress.code_hash == _digest(code.strip().lower()))
        .options(joinedload(ExternalAddress.account))
    )
    if entry is None or entry.address != address or entry.code_sent_at is None:
        return None
    if entry.code_sent_at < utc_now() - CODE_LIFETIME:
        return None
    entry.confirmed_at = utc_now()
    entry.code_hash = None
    return entry


def remove_external_address(session: Session, login: str, address: str) -> None:
    """Remove a declared address of `login`; raises `AccountError` if it has none such."""
    account = get_account(session, login)
    try:
        normalised = normalise_address(address)
    except InvalidAddressError as error:
        raise AccountError(str(error)) from None
    entry = session.scalar(
        select(ExternalAddress).where(
            ExternalAddress.account_id == account.id, ExternalAddress.address == normalised
        )
    )
    if entry is None:
        raise AccountError(f"{account.login} has no external address {address}")
    session.delete(entry)


# Built once: asked for every mail from another server that acts for an account.
_CONFIRMED_OWNER = select(ExternalAddress.account_id).where(
    ExternalAddress.address == bindparam("address"), ExternalAddress.confirmed_at.is_not(None)
)


def confirmed_owner(connection: Connection, address: str) -> int | None:
    """Return the id of the account that `address` is a confirmed external address of."""
    return connection.scalar(_CONFIRMED_OWNER, {"address": address})


def codes_in(tag: str, subject: str, text: str) -> list[str]:
    """Return the words that could be confirmation codes where a code can be, lowercased.

    The confirmation mail puts the code in the plus-tag its answers go to and in its
    subject; someone who types it does so at the top. So only the tag, the subject
    and the first few lines are looked at, and at most a few candidates are
    returned: each costs a digest and a query, which a long mail must not multiply.
    """
    head = "\n".join(text[:CODE_SEARCH_CHARACTERS].splitlines()[:CODE_SEARCH_LINES])
    found: list[str] = []
    for word in f"{tag} {subject[:CODE_SEARCH_CHARACTERS]} {head}".split():
        candidate = word.strip(".,;:!?()[]<>\"'").lower()
        if (
            len(candidate) == CODE_LENGTH
            and set(candidate) <= _CODE_LETTERS
            and candidate not in found
        ):
            found.append(candidate)
            if len(found) == MAX_CODE_CANDIDATES:
                break
    return found


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()
