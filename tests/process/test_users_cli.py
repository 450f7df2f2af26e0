"""`mailcmd users ...` as an operator uses it, on SQLite or PostgreSQL."""

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from mailcmd.db.engine import database_url as normalised_url
from mailcmd.db.models import Account, AppPassword
from tests.conftest import Cli

PASSWORD = "correct horse battery"


def add_alice(cli: Cli, *extra: str) -> None:
    result = cli("users", "add", "alice@app.localhost", *extra, "--password-stdin", input=PASSWORD)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "added alice@app.localhost\n"


def stored_account(database_url: str, login: str) -> Account:
    engine = create_engine(normalised_url(database_url))
    try:
        with Session(engine) as session:
            account = session.scalars(select(Account).where(Account.login == login)).one()
            session.expunge(account)
            return account
    finally:
        engine.dispose()


def app_password_hashes(database_url: str) -> list[str]:
    engine = create_engine(normalised_url(database_url))
    try:
        with Session(engine) as session:
            return list(session.scalars(select(AppPassword.password_hash)))
    finally:
        engine.dispose()


def show_json(cli: Cli, login: str) -> dict[str, object]:
    result = cli("users", "show", login, "--json")
    assert result.exit_code == 0, result.stderr
    shown: dict[str, object] = json.loads(result.stdout)
    return shown


def test_add_with_addresses_and_roles_then_show(cli: Cli) -> None:
    add_alice(cli, "--address", "Alice.Smith@App.Localhost", "--role", "admin", "--role", "ops")

    shown = show_json(cli, "alice@app.localhost")

    assert shown["login"] == "alice@app.localhost"
    assert shown["addresses"] == ["alice.smith@app.localhost", "alice@app.localhost"]
    assert shown["roles"] == ["admin", "ops"]
    assert shown["enabled"] is True
    assert shown["last_login_at"] is None
    assert str(shown["created_at"]).endswith("+00:00")


def test_roles_are_added_listed_and_removed(cli: Cli) -> None:
    add_alice(cli, "--role", "ops")

    added = cli("users", "roles", "alice@app.localhost", "--add", "ADMIN")
    listed = cli("users", "roles", "alice@app.localhost")
    roles_with_admin = show_json(cli, "alice@app.localhost")["roles"]
    removed = cli("users", "roles", "alice@app.localhost", "--remove", "admin", "--remove", "ops")

    assert (added.exit_code, added.stdout) == (0, "alice@app.localhost: admin, ops\n")
    assert (listed.exit_code, listed.stdout) == (0, "alice@app.localhost: admin, ops\n")
    assert roles_with_admin == ["admin", "ops"]
    assert (removed.exit_code, removed.stdout) == (0, "alice@app.localhost: no roles\n")
    assert show_json(cli, "alice@app.localhost")["roles"] == []


APP_WITH_A_ROLE = """\
from mailcmd import Context, MailApp

app = MailApp()
ops = app.mailbox("ops")


@ops.command("restart", roles={"operator"})
def restart(ctx: Context) -> None:
    \"\"\"Restart.\"\"\"
"""


def test_a_role_the_app_asks_for_can_be_given(cli: Cli, tmp_path: Path) -> None:
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "ops.py").write_text(APP_WITH_A_ROLE)
    with_app = Cli(env={**cli.env, "MAILCMD_COMMANDS": str(commands)})
    add_alice(with_app)

    result = with_app("users", "roles", "alice@app.localhost", "--add", "operator")

    assert (result.exit_code, result.stdout) == (0, "alice@app.localhost: operator\n")


def test_login_that_is_not_an_address_owns_only_given_addresses(cli: Cli) -> None:
    result = cli("users", "add", "Bob", "--address", "bob@app.localhost", "--generate")
    assert result.exit_code == 0, result.stderr

    shown = show_json(cli, "bob")

    assert shown["login"] == "bob"
    assert shown["addresses"] == ["bob@app.localhost"]


def test_password_is_stored_only_as_argon2id_hash(cli: Cli, database_url: str) -> None:
    add_alice(cli)

    account = stored_account(database_url, "alice@app.localhost")

    assert PASSWORD not in account.password_hash
    assert account.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(account.password_hash, PASSWORD)


def test_generate_prints_a_password_that_verifies(cli: Cli, database_url: str) -> None:
    result = cli("users", "add", "carol@app.localhost", "--generate")
    assert result.exit_code == 0, result.stderr

    password = result.stdout.splitlines()[-1].removeprefix("password: ")

    assert len(password) >= 20
    account = stored_account(database_url, "carol@app.localhost")
    assert PasswordHasher().verify(account.password_hash, password)


def test_interactive_password_is_asked_twice_without_echo(cli: Cli, database_url: str) -> None:
    result = cli("users", "add", "dave@app.localhost", input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.output
    assert result.output.count("Password") == 1
    assert "Repeat for confirmation" in result.output
    account = stored_account(database_url, "dave@app.localhost")
    assert PasswordHasher().verify(account.password_hash, PASSWORD)


def test_interactive_passwords_that_differ_are_asked_again(cli: Cli) -> None:
    answers = f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n"

    result = cli("users", "add", "erin@app.localhost", input=answers)

    assert result.exit_code == 0, result.stderr
    assert "Error: The two entered values do not match." in result.output


def test_list_shows_every_account_as_table_and_json(cli: Cli) -> None:
    add_alice(cli)
    assert cli("users", "add", "bob", "--generate").exit_code == 0

    table = cli("users", "list")
    as_json = cli("users", "list", "--json")

    lines = table.stdout.splitlines()
    assert lines[0].split() == ["LOGIN", "ADDRESSES", "ROLES", "ENABLED", "LAST", "LOGIN"]
    assert lines[1].startswith("alice@app.localhost")
    assert lines[2].startswith("bob ")
    assert [entry["login"] for entry in json.loads(as_json.stdout)] == [
        "alice@app.localhost",
        "bob",
    ]


def test_list_of_no_accounts_says_so(cli: Cli) -> None:
    result = cli("users", "list")

    assert result.exit_code == 0
    assert result.stdout == "(none)\n"


def test_passwd_replaces_the_password(cli: Cli, database_url: str) -> None:
    add_alice(cli)

    result = cli(
        "users", "passwd", "alice@app.localhost", "--password-stdin", input="a new long one"
    )

    assert result.exit_code == 0, result.stderr
    account = stored_account(database_url, "alice@app.localhost")
    assert PasswordHasher().verify(account.password_hash, "a new long one")


def test_disable_and_enable(cli: Cli) -> None:
    add_alice(cli)

    assert cli("users", "disable", "alice@app.localhost").stdout == "disabled alice@app.localhost\n"
    assert show_json(cli, "alice@app.localhost")["enabled"] is False
    assert cli("users", "enable", "alice@app.localhost").exit_code == 0
    assert show_json(cli, "alice@app.localhost")["enabled"] is True


def test_delete_removes_the_account_and_frees_its_addresses(cli: Cli) -> None:
    add_alice(cli, "--address", "al@app.localhost")

    result = cli("users", "delete", "alice@app.localhost")

    assert result.exit_code == 0
    assert cli("users", "show", "alice@app.localhost").exit_code == 1
    reused = cli("users", "add", "al@app.localhost", "--generate")
    assert reused.exit_code == 0, reused.stderr


def test_app_password_add_list_revoke(cli: Cli, database_url: str) -> None:
    add_alice(cli)

    added = cli("users", "app-password", "add", "alice@app.localhost", "--label", "Thunderbird")
    listed = cli("users", "app-password", "list", "alice@app.localhost", "--json")

    assert added.exit_code == 0, added.stderr
    password = added.stdout.rsplit(": ", 1)[1].strip()
    [stored_hash] = app_password_hashes(database_url)
    assert stored_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(stored_hash, password)
    assert [entry["label"] for entry in json.loads(listed.stdout)] == ["Thunderbird"]
    assert password not in listed.stdout

    revoked = cli("users", "app-password", "revoke", "alice@app.localhost", "Thunderbird")

    assert revoked.exit_code == 0, revoked.stderr
    assert app_password_hashes(database_url) == []
    assert cli("users", "app-password", "list", "alice@app.localhost").stdout == "(none)\n"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "add", "alice@app.localhost", "--password-stdin"], PASSWORD, "already exists"),
        (
            ["users", "add", "bob", "--address", "ALICE@app.localhost", "--password-stdin"],
            PASSWORD,
            "the address alice@app.localhost already belongs to an account",
        ),
        (["users", "add", "bob", "--password-stdin"], "", "the password is empty"),
        (["users", "add", "bob", "--password-stdin"], "short", "shorter than 10 characters"),
        (["users", "add", "bob@", "--password-stdin"], PASSWORD, "not a mail address"),
        (
            ["users", "add", "bob", "--address", "bob@-bad-.example", "--password-stdin"],
            PASSWORD,
            "not a valid domain",
        ),
        (["users", "add", "bob smith", "--password-stdin"], PASSWORD, "invalid login"),
        (["users", "add", "bob", "--role", "9lives", "--generate"], None, "invalid role"),
        (["users", "add", "bob", "--generate", "--password-stdin"], "", "choose one of"),
        (["users", "roles", "nobody", "--add", "admin"], None, "no account with login nobody"),
        (
            ["users", "roles", "alice@app.localhost", "--add", "admn"],
            None,
            "unknown role 'admn': the roles in use are admin",
        ),
        (
            ["users", "roles", "alice@app.localhost", "--remove", "admin"],
            None,
            "alice@app.localhost does not hold the role 'admin'",
        ),
        (["users", "roles", "alice@app.localhost", "--add", "9lives"], None, "invalid role"),
        (["users", "show", "nobody"], None, "no account with login nobody"),
        (["users", "passwd", "nobody", "--generate"], None, "no account with login nobody"),
        (["users", "disable", "nobody"], None, "no account with login nobody"),
        (["users", "enable", "nobody"], None, "no account with login nobody"),
        (["users", "delete", "nobody"], None, "no account with login nobody"),
        (["users", "app-password", "add", "nobody", "--label", "x"], None, "no account"),
        (["users", "app-password", "list", "nobody"], None, "no account with login nobody"),
        (
            ["users", "app-password", "revoke", "alice@app.localhost", "Phone"],
            None,
            "has no app password labelled 'Phone'",
        ),
        (
            ["users", "app-password", "add", "alice@app.localhost", "--label", "  "],
            None,
            "invalid label",
        ),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_1(
    cli: Cli, args: list[str], stdin: str | None, message: str
) -> None:
    add_alice(cli)

    result = cli(*args, input=stdin)

    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("mailcmd: ")
    assert message in line


def test_duplicate_app_password_label_is_refused(cli: Cli) -> None:
    add_alice(cli)
    assert cli("users", "app-password", "add", "alice@app.localhost", "-l", "Phone").exit_code == 0

    again = cli("users", "app-password", "add", "alice@app.localhost", "-l", "Phone")

    assert again.exit_code == 1
    assert "already has an app password labelled 'Phone'" in again.stderr
