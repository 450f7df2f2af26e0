"""Accounts: logins, owned addresses, roles, argon2id password hashes and app passwords."""

import functools
import re
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from mailcmd.addressing.addresses import (
    InvalidAddressError,
    is_address,
    mailbox_name,
    normalise_address,
)
from mailcmd.app.registry import POSTMASTER_ADDRESS, builtin_mailbox_names
from mailcmd.db.models import Account, AccountAddress, AppPassword
from mailcmd.db.types import utc_now
from mailcmd.errors import MailcmdError
from mailcmd.identity.throttling import clear_login_failures

MIN_PASSWORD_LENGTH = 10
# argon2 costs the same for any length, but an unbounded input is still an easy way
# to make a server hash megabytes per attempt.
MAX_PASSWORD_LENGTH = 1024
GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters, 144 bits

_LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_LABEL = re.compile(r"[\w.-][\w .-]{0,63}")

# The role mailcmd itself gives meaning to: its accounts get the operator's alerts.
ADMIN_ROLE = "admin"

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile.
_hasher = PasswordHasher()


def server_mailboxes() -> frozenset[str]:
    """Local parts mailcmd itself answers on or sends as, whatever the app.

    An account holding one would read mail meant for them and send mail that looks
    like the server's own.
    """
    return builtin_mailbox_names() | {POSTMASTER_ADDRESS}


class AccountError(MailcmdError, ValueError):
    """A request about accounts that cannot be done; the message is one line for the person."""


class AccountNotFoundError(AccountError):
    """No account has the given login."""


def hash_password(password: str) -> str:
    """Return the argon2id hash (PHC string) of `password`."""
    return _hasher.hash(password)


def generate_password() -> str:
    """Return a new random password strong enough to need no other check."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def check_password(password: str) -> None:
    """Raise `AccountError` if `password` is too short, too long or empty."""
    if not password:
        raise AccountError("the password is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password is shorter than {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")


def normalise_login(login: str) -> str:
    """Return `login` in its stored form (lower case; an address is normalised as one)."""
    text = login.strip()
    if is_address(text):
        try:
            return normalise_address(text)
        except InvalidAddressError as error:
            raise AccountError(f"invalid login: {error}") from None
    lowered = text.lower()
    if not _LOGIN.fullmatch(lowered):
        raise AccountError(
            f"invalid login {login!r}: use an address, or up to 64 letters, digits, '.', '_', '-'"
        )
    return lowered


def create_account(
    session: Session,
    login: str,
    password: str,
    addresses: Iterable[str] = (),
    roles: Iterable[str] = (),
    *,
    app_mailboxes: Collection[str] = (),
) -> Account:
    """Add an account; a login that is an address also owns that address.

    Raises `AccountError` for an invalid or taken login or address, an address that
    one of `app_mailboxes` or mailcmd itself answers on (`server_mailboxes`), a bad
    role or a weak password. The caller commits. (The server's start refuses an
    account address that a mailbox of the app it loads answers on, whoever made it.)
    """
    stored_login = normalise_login(login)
    owned = _normalise_addresses(addresses)
    if is_address(stored_login) and stored_login not in owned:
        owned.insert(0, stored_login)
    refuse_served_addresses(owned, app_mailboxes)
    stored_roles = _normalise_roles(roles)
    check_password(password)
    if session.scalar(select(Account.id).where(Account.login == stored_login)) is not None:
        raise AccountError(f"an account with login {stored_login} already exists")
    _refuse_taken_addresses(session, owned)
    account = Account(
        login=stored_login,
        password_hash=hash_password(password),
        roles=stored_roles,
        addresses=[AccountAddress(address=address) for address in owned],
    )
    session.add(account)
    _flush(session, f"login {stored_login} or one of its addresses was taken meanwhile")
    return account


def get_account(session: Session, login: str) -> Account:
    """Return the account with `login`, with its addresses and app passwords loaded."""
    account = session.scalar(
        select(Account)
        .where(Account.login == normalise_login(login))
        .options(selectinload(Account.addresses), selectinload(Account.app_passwords))
    )
    if account is None:
        raise AccountNotFoundError(f"no account with login {login.strip()}")
    return account


def list_accounts(session: Session) -> Sequence[Account]:
    """Return every account, by login, with addresses and app passwords loaded."""
    return session.scalars(
        select(Account)
        .order_by(Account.login)
        .options(selectinload(Account.addresses), selectinload(Account.app_passwords))
    ).all()


def set_password(session: Session, login: str, password: str) -> Account:
    """Replace the password of the account `login`."""
    check_password(password)
    account = get_account(session, login)
    account.password_hash = hash_password(password)
    return account


def change_roles(
    session: Session,
    login: str,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    *,
    known: Collection[str] = (ADMIN_ROLE,),
) -> Account:
    """Give the account `login` the roles `add` and take `remove` from it.

    Raises `AccountError` for an unknown login, a role to add that is not in `known`
    (a typo would otherwise give a role nothing checks), or a role to remove that the
    account does not hold. The caller commits.
    """
    account = get_account(session, login)
    added = _normalise_roles(add)
    removed = _normalise_roles(remove)
    unknown = [role for role in added if role not in known]
    if unknown:
        raise AccountError(
            f"unknown role {unknown[0]!r}: the roles in use are {', '.join(sorted(known))}"
        )
    not_held = [role for role in removed if role not in account.roles]
    if not_held:
        raise AccountError(f"{account.login} does not hold the role {not_held[0]!r}")
    # A new list, so that the ORM sees the change of a JSON column.
    account.roles = sorted((set(account.roles) | set(added)) - set(removed))
    return account


def set_enabled(session: Session, login: str, enabled: bool) -> Account:
    """Enable or disable the account `login`; a disabled account cannot log in."""
    account = get_account(session, login)
    account.enabled = enabled
    return account


def delete_account(session: Session, login: str) -> None:
    """Delete the account `login` with its addresses, app passwords and mailboxes."""
    session.delete(get_account(session, login))


def unlock(session: Session, login: str) -> int:
    """Clear failed logins and lockouts of `login` (and of every address its account owns).

    Works for a login no account has, since guessers are throttled by what they type.
    Returns how many of those names had failures recorded.
    """
    names = [login]
    account = _find_by_login_or_address(session, login)
    if account is not None:
        names += [account.login, *(entry.address for entry in account.addresses)]
    return clear_login_failures(session, names)


def add_app_password(session: Session, login: str, label: str) -> str:
    """Create an app password `label` for `login`; return it, the only time it is shown."""
    account = get_account(session, login)
    stored_label = label.strip()
    if not _LABEL.fullmatch(stored_label):
        raise AccountError(
            f"invalid label {label!r}: up to 64 letters, digits, spaces, '.', '_', '-'"
        )
    if any(existing.label == stored_label for existing in account.app_passwords):
        raise AccountError(f"{account.login} already has an app password labelled {stored_label!r}")
    password = generate_password()
    account.app_passwords.append(
        AppPassword(label=stored_label, password_hash=hash_password(password))
    )
    _flush(session, f"{account.login} got an app password labelled {stored_label!r} meanwhile")
    return password


def revoke_app_password(session: Session, login: str, label: str) -> None:
    """Remove the app password `label` of `login`; clients using it can no longer log in."""
    account = get_account(session, login)
    for app_password in account.app_passwords:
        if app_password.label == label.strip():
            account.app_passwords.remove(app_password)
            return
    raise AccountError(f"{account.login} has no app password labelled {label.strip()!r}")


def _normalise_addresses(addresses: Iterable[str]) -> list[str]:
    owned: list[str] = []
    for text in addresses:
        try:
            address = normalise_address(text)
        except InvalidAddressError as error:
            raise AccountError(str(error)) from None
        if address not in owned:
            owned.append(address)
    return owned


def refuse_served_addresses(addresses: Iterable[str], app_mailboxes: Collection[str]) -> None:
    """Raise `AccountError` if an address (normalised) is one the server answers itself.

    That is a mailbox of the app or one of `server_mailboxes`, with or without a
    plus-tag and at any domain: routing goes by the local part alone, so the account
    would never get that mail, and could send as the app.
    """
    for address in addresses:
        local = mailbox_name(address)
        if local in server_mailboxes() or local in app_mailboxes:
            raise AccountError(f"{address} cannot belong to an account: mailcmd answers {local}@")


def served_addresses_owned(session: Session, app_mailboxes: Collection[str]) -> list[str]:
    """Return the account addresses that the app or mailcmd itself answers on.

    For the server's start: an app that gains a mailbox an account already owns
    (or a database from before this check) must not serve with the clash.
    """
    names = sorted(server_mailboxes() | set(app_mailboxes))
    matches = [
        AccountAddress.address.startswith(f"{name}{separator}", autoescape=True)
        for name in names
        for separator in ("@", "+")
    ]
    return list(session.scalars(select(AccountAddress.address).where(or_(*matches))))


def _normalise_roles(roles: Iterable[str]) -> list[str]:
    stored = sorted({role.strip().lower() for role in roles})
    for role in stored:
        if not _ROLE.fullmatch(role):
            raise AccountError(f"invalid role {role!r}: a letter, then letters, digits, '_', '-'")
    return stored


def _refuse_taken_addresses(session: Session, addresses: Sequence[str]) -> None:
    if not addresses:
        return
    taken = session.scalars(
        select(AccountAddress.address).where(AccountAddress.address.in_(addresses))
    ).first()
    if taken is not None:
        raise AccountError(f"the address {taken} already belongs to an account")


def _flush(session: Session, conflict: str) -> None:
    # The checks above answer the common case clearly; the unique constraints catch
    # the race with another writer.
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AccountError(conflict) from None


@dataclass(frozen=True)
class VerifiedLogin:
    """An account whose credentials were just checked, and how it proved itself."""

    account_id: int
    login: str
    addresses: frozenset[str]
    roles: frozenset[str]
    # "password", or "app-password:<label>"
    method: str
    # The app password that proved it, if one did.
    app_password_id: int | None = None


def verify_credentials(session: Session, login: str, password: str) -> VerifiedLogin | None:
    """Return the enabled account that `login` and `password` prove, or None.

    `login` may be the account's login or any address it owns; `password` may be its
    password or one of its app passwords. Costs one argon2 check per candidate hash,
    so it belongs off the event loop. Only reads: `record_login` records the use.
    """
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        return None
    account = _find_by_login_or_address(session, login)
    if account is None or not account.enabled:
        # Spend the time a real check would, so a probe cannot tell logins apart.
        _verify_hash(_dummy_hash(), password)
        return None
    method: str | None = None
    app_password_id: int | None = None
    if _verify_hash(account.password_hash, password):
        method = "password"
    else:
        for app_password in account.app_passwords:
            if _verify_hash(app_password.password_hash, password):
                method = f"app-password:{app_password.label}"
                app_password_id = app_password.id
                break
    if method is None:
        return None
    return VerifiedLogin(
        account_id=account.id,
        login=account.login,
        addresses=frozenset(entry.address for entry in account.addresses),
        roles=frozenset(account.roles),
        method=method,
        app_password_id=app_password_id,
    )


def record_login(session: Session, verified: VerifiedLogin) -> None:
    """Record now as the last login of `verified`'s account and last use of its app password.

    The caller commits.
    """
    now = utc_now()
    session.execute(
        update(Account).where(Account.id == verified.account_id).values(last_login_at=now)
    )
    if verified.app_password_id is not None:
        session.execute(
            update(AppPassword)
            .where(AppPassword.id == verified.app_password_id)
            .values(last_used_at=now)
        )


def _find_by_login_or_address(session: Session, login: str) -> Account | None:
    try:
        stored = normalise_login(login)
    except AccountError:
        return None
    loading = (selectinload(Account.addresses), selectinload(Account.app_passwords))
    account = session.scalar(select(Account).where(Account.login == stored).options(*loading))
    if account is None and is_address(stored):
        account = session.scalar(
            select(Account)
            .join(AccountAddress)
            .where(AccountAddress.address == stored)
            .options(*loading)
        )
    return account


def _verify_hash(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))
