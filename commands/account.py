"""account@: who you are here, your password and your app passwords, by mail.

Changing the password or making app passwords needs a session that logged in with
the account's own password: a stolen app password, or mail from a verified
address, must not be enough to take the account over.
"""

from typing import Annotated

from mailcmd import (
    AccountError,
    CommandError,
    Context,
    Help,
    MailApp,
    add_app_password,
    get_account,
    revoke_app_password,
    set_password,
)

app = MailApp()
# Passwords arrive in its mail, in the text or by mistake in the Subject.
account = app.mailbox(
    "account", help="Your account: whoami, passwd, app passwords", holds_secrets=True
)


def _login(ctx: Context, doing: str) -> str:
    """The sender's login, if they logged in with the account's password."""
    if ctx.sender.proved_by != "password" or ctx.sender.login is None:
        raise CommandError(
            f"{doing} needs a session that logged in with your account's password"
            " (not an app password, and not mail from another server)"
        )
    return ctx.sender.login


@account.command("whoami", template="account/whoami", example="whoami")
def whoami(ctx: Context) -> None:
    """Show your login, addresses, roles, and how this mail proved it was you."""
    assert ctx.sender.login is not None  # the mailbox takes only accounts
    found = get_account(ctx.session, ctx.sender.login)
    ctx.reply(account=found, proved_by=ctx.sender.proved_by)


@account.command("passwd", template="account/passwd", example="passwd")
def passwd(ctx: Context) -> None:
    """Set a new password: write it as the first line of the mail's text."""
    login = _login(ctx, "changing the password")
    lines = [line.strip() for line in ctx.body.splitlines() if line.strip()]
    # The mail held a password: it is not kept in the queue once processed.
    ctx.forget_message()
    if not lines:
        raise CommandError("write the new password as the first line of the mail's text")
    try:
        set_password(ctx.session, login, lines[0])
    except AccountError as error:
        raise CommandError(str(error)) from None
    ctx.reply(login=login)


@account.command(
    "app-password", template="account/app-password", example="app-password add Thunderbird"
)
def app_password(
    ctx: Context, request: Annotated[str, Help("add LABEL, list, or revoke LABEL")]
) -> None:
    """Manage app passwords: `app-password add LABEL`, `list`, or `revoke LABEL`."""
    action, _, label = request.partition(" ")
    if action not in ("add", "list", "revoke"):
        raise CommandError(f"app-password {action!r}: use add LABEL, list, or revoke LABEL")
    if action == "list":
        assert ctx.sender.login is not None
        found = get_account(ctx.session, ctx.sender.login)
        ctx.reply(action="list", app_passwords=found.app_passwords, label="", password="")
        return
    login = _login(ctx, f"app-password {action}")
    if not label:
        raise CommandError(f"app-password {action} needs a LABEL, such as Thunderbird")
    try:
        if action == "add":
            password = add_app_password(ctx.session, login, label)
        else:
            revoke_app_password(ctx.session, login, label)
            password = ""
    except AccountError as error:
        raise CommandError(str(error)) from None
    ctx.reply(action=action, label=label.strip(), password=password, app_passwords=[])
