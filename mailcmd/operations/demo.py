"""Demo mode: one account to try mailcmd with, and the mail-client settings to use it.

`mailcmd serve --demo` makes the account once (`demo@<domain>`, with a generated
password kept in `state_dir/demo-password`, readable by its owner only) and prints
how to set a mail client up, every time it starts.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcmd.db.models import Account
from mailcmd.db.private_files import write_private
from mailcmd.identity.accounts import create_account, generate_password, set_password
from mailcmd.operations.autoconfig import describe_servers
from mailcmd.settings import Settings

DEMO_LOCAL_PART = "demo"
CREDENTIALS_FILE = "demo-password"


@dataclass(frozen=True)
class DemoAccount:
    """The demo account's login and password, and whether this start made it."""

    login: str
    password: str
    created: bool


def ensure_demo_account(session: Session, settings: Settings) -> DemoAccount:
    """Return the demo account, making it (and its password file) if there is none.

    An account whose password file was lost gets a new password, so the printed one
    always works. The caller commits.
    """
    login = f"{DEMO_LOCAL_PART}@{settings.domain}"
    path = settings.state_dir / CREDENTIALS_FILE
    exists = session.scalar(select(Account.id).where(Account.login == login)) is not None
    if exists and path.is_file():
        return DemoAccount(login=login, password=path.read_text().strip(), created=False)
    password = generate_password()
    if exists:
        set_password(session, login, password)
    else:
        create_account(session, login, password)
    write_private(path, f"{password}\n".encode())
    return DemoAccount(login=login, password=password, created=not exists)


def demo_lines(
    settings: Settings,
    ports: Mapping[str, int],
    account: DemoAccount,
    fingerprint: str | None,
    mailboxes: Iterable[str],
) -> list[str]:
    """What a person needs to set up Thunderbird (or any mail client) for the demo, and
    where to write then, at each of mailcmd's domains.

    `ports` are the listeners' ports as bound, by listener name; `mailboxes` are the
    ones the app answers at.
    """
    lines = [
        "",
        "demo account" + (" (made just now)" if account.created else "") + ":",
        f"  address and login: {account.login}",
        f"  password: {account.password}",
        *(f"  {line}" for line in describe_servers(settings, ports, account.login)),
    ]
    if fingerprint is not None:
        lines.append(f"  the certificate is self-signed: accept it if its SHA-256 is {fingerprint}")
    for domain in settings.domains:
        addresses = ", ".join(f"{mailbox}@{domain}" for mailbox in sorted(mailboxes))
        lines += [
            f"  then write to the app at {addresses}, a command in the subject;",
            f'  "help" there, or to help@{domain}, lists the commands',
        ]
    if len(settings.domains) > 1:
        lines.append("  (the same app answers at each domain, from the domain written to)")
    return lines
