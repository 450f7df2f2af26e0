"""`mailcmd users ...`: accounts, their passwords, addresses, roles and app passwords."""

import json
import sys
from typing import Annotated, Any

import typer

from mailcmd.app.loading import load_registry, template_folders
from mailcmd.app.rendering import Renderer
from mailcmd.cli.output import print_table, timestamp
from mailcmd.cli.state import cli_state, database_session
from mailcmd.db.models import Account
from mailcmd.identity import accounts, verified_senders

app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app_password_app = typer.Typer(help="Manage an account's app passwords.", no_args_is_help=True)
app.add_typer(app_password_app, name="app-password")

LoginArgument = Annotated[str, typer.Argument(help="The account's login.", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]
GenerateOption = Annotated[
    bool, typer.Option("--generate", help="Generate a strong password and print it once.")
]


@app.command("add")
def add(
    ctx: typer.Context,
    login: LoginArgument,
    address: Annotated[
        list[str] | None,
        typer.Option("--address", "-a", help="Another address the account owns (repeatable)."),
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option("--role", "-r", help="A role the account holds (repeatable)."),
    ] = None,
    password_stdin: PasswordStdinOption = False,
    generate: GenerateOption = False,
) -> None:
    """Add an account; a login that is an address owns that address."""
    password = _new_password(password_stdin, generate)
    mailboxes = load_registry(cli_state(ctx).settings.commands).mailboxes
    with database_session(ctx) as session:
        account = accounts.create_account(
            session, login, password, address or (), role or (), app_mailboxes=mailboxes
        )
        stored_login = account.login
    typer.echo(f"added {stored_login}")
    if generate:
        typer.echo(f"password: {password}")


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every account."""
    with database_session(ctx) as session:
        described = [_describe(account) for account in accounts.list_accounts(session)]
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    print_table(
        ["LOGIN", "ADDRESSES", "ROLES", "ENABLED", "LAST LOGIN"],
        [
            [
                item["login"],
                ", ".join(item["addresses"]) or "-",
                ", ".join(item["roles"]) or "-",
                "yes" if item["enabled"] else "no",
                item["last_login_at"] or "never",
            ]
            for item in described
        ],
    )


@app.command("show")
def show(ctx: typer.Context, login: LoginArgument, as_json: JsonOption = False) -> None:
    """Show one account."""
    with database_session(ctx) as session:
        item = _describe(accounts.get_account(session, login))
    if as_json:
        typer.echo(json.dumps(item, indent=2))
        return
    labels = ", ".join(entry["label"] for entry in item["app_passwords"])
    print_table(
        ["FIELD", "VALUE"],
        [
            ["login", item["login"]],
            ["addresses", ", ".join(item["addresses"]) or "-"],
            ["external addresses", _external_addresses(item) or "-"],
            ["roles", ", ".join(item["roles"]) or "-"],
            ["enabled", "yes" if item["enabled"] else "no"],
            ["created", item["created_at"]],
            ["last login", item["last_login_at"] or "never"],
            ["app passwords", labels or "-"],
        ],
    )


@app.command("roles")
def roles(
    ctx: typer.Context,
    login: LoginArgument,
    add: Annotated[
        list[str] | None,
        typer.Option("--add", help="Give the account this role (repeatable)."),
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option("--remove", help="Take this role from the account (repeatable)."),
    ] = None,
) -> None:
    """Show an account's roles, or change them.

    A role to add must be `admin` (who gets mailcmd's alerts) or one the app's
    commands ask for.
    """
    registry = load_registry(cli_state(ctx).settings.commands)
    known = {accounts.ADMIN_ROLE}
    for command in registry.commands():
        known |= command.policy.roles
    with database_session(ctx) as session:
        account = accounts.change_roles(session, login, add or (), remove or (), known=known)
        stored_login, held = account.login, list(account.roles)
    typer.echo(f"{stored_login}: {', '.join(held) or 'no roles'}")


@app.command("add-address")
def add_address(
    ctx: typer.Context,
    login: LoginArgument,
    address: Annotated[str, typer.Argument(help="An address at another domain.")],
) -> None:
    """Declare an address at another domain the account sends commands from.

    It is unconfirmed until its owner answers the code mailed to it; then mail from
    it to the MX port that passes DMARC alignment runs commands as the account.
    Declaring it again mails a new code.
    """
    settings = cli_state(ctx).settings
    renderer = Renderer(template_folders(settings.templates))
    with database_session(ctx) as session:
        pending = verified_senders.add_external_address(session, login, address, settings.domains)
        verified_senders.queue_confirmation(session, renderer, pending, settings.domain)
    typer.echo(f"added {pending.address} to {pending.login}, unconfirmed")
    typer.echo(f"a confirmation code is in the outbox for {pending.address}; it is confirmed")
    typer.echo("when its owner answers that mail")
    if not settings.relay.host:
        typer.echo("note: no relay is configured, so the mail waits in the outbox (relay.host)")


@app.command("remove-address")
def remove_address(
    ctx: typer.Context,
    login: LoginArgument,
    address: Annotated[str, typer.Argument(help="A declared address at another domain.")],
) -> None:
    """Remove an address at another domain from the account."""
    with database_session(ctx) as session:
        verified_senders.remove_external_address(session, login, address)
    typer.echo(f"removed {address.strip().lower()} from {login.strip()}")


@app.command("passwd")
def passwd(
    ctx: typer.Context,
    login: LoginArgument,
    password_stdin: PasswordStdinOption = False,
    generate: GenerateOption = False,
) -> None:
    """Set a new password for an account."""
    with database_session(ctx) as session:
        account = accounts.get_account(session, login)
        password = _new_password(password_stdin, generate)
        accounts.set_password(session, account.login, password)
    typer.echo(f"changed the password of {account.login}")
    if generate:
        typer.echo(f"password: {password}")


@app.command("disable")
def disable(ctx: typer.Context, login: LoginArgument) -> None:
    """Disable an account: it can no longer log in or send."""
    with database_session(ctx) as session:
        account = accounts.set_enabled(session, login, enabled=False)
    typer.echo(f"disabled {account.login}")


@app.command("enable")
def enable(ctx: typer.Context, login: LoginArgument) -> None:
    """Enable a disabled account."""
    with database_session(ctx) as session:
        account = accounts.set_enabled(session, login, enabled=True)
    typer.echo(f"enabled {account.login}")


@app.command("unlock")
def unlock(ctx: typer.Context, login: LoginArgument) -> None:
    """Clear failed logins and a lockout, for the login and every address of its account."""
    with database_session(ctx) as session:
        cleared = accounts.unlock(session, login)
    typer.echo(f"unlocked {login.strip()}" if cleared else f"{login.strip()} was not locked")


@app.command("delete")
def delete(ctx: typer.Context, login: LoginArgument) -> None:
    """Delete an account with its addresses, app passwords and mailboxes."""
    with database_session(ctx) as session:
        accounts.delete_account(session, login)
    typer.echo(f"deleted {login.strip()}")


@app_password_app.command("add")
def app_password_add(
    ctx: typer.Context,
    login: LoginArgument,
    label: Annotated[str, typer.Option("--label", "-l", help="What the password is for.")],
) -> None:
    """Create an app password and print it; it is shown only this once."""
    with database_session(ctx) as session:
        password = accounts.add_app_password(session, login, label)
    typer.echo(f"app password {label.strip()!r} for {login.strip()}: {password}")


@app_password_app.command("list")
def app_password_list(
    ctx: typer.Context, login: LoginArgument, as_json: JsonOption = False
) -> None:
    """List an account's app passwords (labels and dates, never the passwords)."""
    with database_session(ctx) as session:
        described = _describe(accounts.get_account(session, login))["app_passwords"]
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    print_table(
        ["LABEL", "CREATED", "LAST USED"],
        [
            [item["label"], item["created_at"], item["last_used_at"] or "never"]
            for item in described
        ],
    )


@app_password_app.command("revoke")
def app_password_revoke(
    ctx: typer.Context,
    login: LoginArgument,
    label: Annotated[str, typer.Argument(help="The label of the app password.")],
) -> None:
    """Revoke an app password: clients using it can no longer log in."""
    with database_session(ctx) as session:
        accounts.revoke_app_password(session, login, label)
    typer.echo(f"revoked app password {label.strip()!r} of {login.strip()}")


def _new_password(from_stdin: bool, generate: bool) -> str:
    if from_stdin and generate:
        raise accounts.AccountError("choose one of --password-stdin and --generate")
    if generate:
        return accounts.generate_password()
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    accounts.check_password(password)
    return password


def _external_addresses(item: dict[str, Any]) -> str:
    return ", ".join(
        f"{entry['address']} ({'confirmed' if entry['confirmed_at'] else 'unconfirmed'})"
        for entry in item["external_addresses"]
    )


def _describe(account: Account) -> dict[str, Any]:
    return {
        "login": account.login,
        "addresses": [entry.address for entry in account.addresses],
        "external_addresses": [
            {"address": entry.address, "confirmed_at": timestamp(entry.confirmed_at)}
            for entry in account.external_addresses
        ],
        "roles": list(account.roles),
        "enabled": account.enabled,
        "created_at": timestamp(account.created_at),
        "last_login_at": timestamp(account.last_login_at),
        "app_passwords": [
            {
                "label": entry.label,
                "created_at": timestamp(entry.created_at),
                "last_used_at": timestamp(entry.last_used_at),
            }
            for entry in account.app_passwords
        ],
    }
