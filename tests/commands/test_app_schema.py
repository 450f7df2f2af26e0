"""An app owns its tables: its migrations make them, `mailcmd db` works on its history, and
mistakes in its models are refused with one line naming the file."""

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from mailcmd import MailTestClient, get_account
from mailcmd.db.engine import open_engine
from mailcmd.identity.accounts import delete_account
from tests.conftest import postgres_url
from tests.servers import clean_environment, mailcmd_command

MEMOS = Path(__file__).parents[1] / "apps" / "memos"
ALICE = "alice@app.localhost"
BOB = "bob@app.localhost"
TIMEOUT = 60


@pytest.fixture
def mailcmd_commands() -> Path:
    """The memos app, for the plugin's `mailcmd_client`."""
    return MEMOS / "commands"


@pytest.fixture
def mailcmd_templates() -> Path:
    """The memos app's templates."""
    return MEMOS / "templates"


def test_a_command_writes_the_apps_own_table(mailcmd_client: MailTestClient) -> None:
    mailcmd_client.add_account(ALICE)
    mailcmd_client.add_account(BOB)

    mailcmd_client.send("memos@app.localhost", "keep Call the plumber", login=ALICE)
    exchange = mailcmd_client.send("memos@app.localhost", "keep Water the plants", login=ALICE)
    other = mailcmd_client.send("memos@app.localhost", "list", login=BOB)

    assert exchange.reply["Subject"] == "2 memos"
    assert exchange.reply_text.splitlines() == ["- Call the plumber", "- Water the plants"]
    assert other.reply["Subject"] == "0 memos"
    with mailcmd_client.database.sessions() as session:
        rows = session.execute(
            text("SELECT login, text FROM memos JOIN accounts ON owner_id = accounts.id")
        ).all()
    assert sorted(map(tuple, rows)) == [(ALICE, "Call the plumber"), (ALICE, "Water the plants")]


def test_arranged_rows_are_what_the_command_reads(mailcmd_client: MailTestClient) -> None:
    mailcmd_client.add_account(ALICE)
    with mailcmd_client.database.writing() as session:
        account = get_account(session, ALICE)
        assert account is not None
        session.execute(
            text("INSERT INTO memos (owner_id, text, created_at) VALUES (:id, 'Arranged', :at)"),
            {"id": account.id, "at": account.created_at},
        )
        session.commit()

    exchange = mailcmd_client.send("memos@app.localhost", "list")

    assert exchange.reply_text.strip() == "- Arranged"


def test_an_accounts_memos_go_with_it(mailcmd_client: MailTestClient) -> None:
    mailcmd_client.add_account(ALICE)
    mailcmd_client.send("memos@app.localhost", "keep Gone soon")

    with mailcmd_client.database.writing() as session:
        delete_account(session, ALICE)
        session.commit()
    with mailcmd_client.database.sessions() as session:
        left = session.execute(text("SELECT count(*) FROM memos")).scalar_one()

    assert left == 0


# The CLI runs as a process of its own: each app copy declares its tables in a fresh
# interpreter, as it does for its author.
Mailcmd = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def app_copy(tmp_path: Path) -> Path:
    """A copy of the memos app that a test may change."""
    copy = tmp_path / "memosapp"
    shutil.copytree(MEMOS, copy)
    return copy


@pytest.fixture
def mailcmd_for(database_url: str, tmp_path: Path) -> Callable[[Path], Mailcmd]:
    """Run `mailcmd` on an app folder and this test's database."""

    def for_app(app: Path) -> Mailcmd:
        env = clean_environment(
            MAILCMD_COMMANDS=str(app / "commands"),
            MAILCMD_TEMPLATES=str(app / "templates"),
            MAILCMD_DATABASE_URL=database_url,
            MAILCMD_STATE_DIR=str(tmp_path / "state"),
        )

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*mailcmd_command(), *args],
                cwd=app,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )

        return run

    return for_app


@pytest.fixture
def mailcmd(app_copy: Path, mailcmd_for: Callable[[Path], Mailcmd]) -> Mailcmd:
    """Run `mailcmd` on the app copy and this test's database."""
    return mailcmd_for(app_copy)


def revisions(app_copy: Path) -> set[Path]:
    return set((app_copy / "migrations").glob("*.py"))


def test_autogenerate_writes_into_the_apps_folder_and_compares_only_its_tables(
    app_copy: Path, mailcmd: Mailcmd
) -> None:
    assert mailcmd("db", "upgrade").returncode == 0
    model = app_copy / "commands" / "memos.py"
    model.write_text(
        model.read_text().replace(
            "    created_at: Mapped[datetime] = mapped_column(default=utc_now)\n",
            "    created_at: Mapped[datetime] = mapped_column(default=utc_now)\n"
            "    pinned: Mapped[bool] = mapped_column(default=False)\n",
        )
    )
    before = revisions(app_copy)

    result = mailcmd("db", "revision", "-m", "pinned memos", "--autogenerate")

    [written] = revisions(app_copy) - before
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"wrote {written}\n")
    body = written.read_text()
    assert "add_column" in body
    assert "pinned" in body
    # Nothing of mailcmd's own tables, and no drop of anything.
    assert "accounts" not in body.split("def downgrade")[0]
    assert "drop_table" not in body
    assert mailcmd("db", "upgrade").returncode == 0
    current = mailcmd("db", "current").stdout.splitlines()
    assert current[1].startswith(f"app ({app_copy / 'migrations'}): ")
    assert current[1].endswith("(head)")


def test_a_table_of_the_framework_name_is_refused(app_copy: Path, mailcmd: Mailcmd) -> None:
    model = app_copy / "commands" / "memos.py"
    model.write_text(model.read_text().replace('"memos"', '"accounts"'))

    result = mailcmd("commands")

    assert result.returncode == 2
    assert result.stderr == (
        f"mailcmd: {model}: table 'accounts' is one of mailcmd's own tables: name yours otherwise\n"
    )


def test_two_modules_declaring_one_table_are_refused(app_copy: Path, mailcmd: Mailcmd) -> None:
    first = app_copy / "commands" / "memos.py"
    second = app_copy / "commands" / "more_memos.py"
    second.write_text(first.read_text().replace('app.mailbox("memos"', 'app.mailbox("more"'))

    result = mailcmd("commands")

    assert result.returncode == 2
    assert result.stderr == (f"mailcmd: {second}: table 'memos' is declared in {first} too\n")


def test_an_app_with_tables_and_no_migrations_folder_is_refused(
    app_copy: Path, mailcmd: Mailcmd
) -> None:
    shutil.rmtree(app_copy / "migrations")
    assert mailcmd("db", "upgrade", "--framework").returncode == 0

    served = mailcmd("serve")
    revision = mailcmd("db", "revision", "-m", "first", "--autogenerate")

    assert served.returncode == 2
    assert served.stderr == (
        f"mailcmd: {app_copy / 'commands' / 'memos.py'}: declares table 'memos', but the app "
        f"has no migrations folder {app_copy / 'migrations'}: make it, then run "
        "`mailcmd db revision -m memos --autogenerate`\n"
    )
    assert revision.returncode == 2
    assert revision.stderr == served.stderr


def test_a_table_no_revision_makes_is_refused_at_start(app_copy: Path, mailcmd: Mailcmd) -> None:
    for revision in revisions(app_copy):
        revision.unlink()
    assert mailcmd("db", "upgrade").returncode == 0

    result = mailcmd("serve")

    assert result.returncode == 2
    assert result.stderr == (
        f"mailcmd: {app_copy / 'commands' / 'memos.py'}: table 'memos' is made by no revision "
        f"in {app_copy / 'migrations'}: run `mailcmd db revision -m memos --autogenerate`, "
        "then `mailcmd db upgrade`\n"
    )


@pytest.mark.skipif(postgres_url() is None, reason="needs MAILCMD_TEST_DATABASE_URL (PostgreSQL)")
def test_serve_refuses_a_postgresql_app_schema_that_is_behind(
    app_copy: Path, mailcmd: Mailcmd
) -> None:
    assert mailcmd("db", "upgrade", "--framework").returncode == 0
    [revision] = revisions(app_copy)

    result = mailcmd("serve")

    assert result.returncode == 1
    assert result.stderr == (
        f"mailcmd: the app ({app_copy / 'migrations'}) schema is at nothing (empty database),"
        f" not at its head {revision.name.split('_')[0]}: run `mailcmd db upgrade`\n"
    )


def test_autogenerate_never_drops_a_table_whose_model_is_gone(
    app_copy: Path, mailcmd: Mailcmd
) -> None:
    assert mailcmd("db", "upgrade").returncode == 0
    [made_by] = revisions(app_copy)
    model = app_copy / "commands" / "memos.py"
    model.write_text(model.read_text().split("class Memo(Model):")[0])

    result = mailcmd("db", "revision", "-m", "no more memos", "--autogenerate")

    assert result.returncode == 2
    assert result.stderr == (
        f"mailcmd: {made_by}: autogenerate would drop table 'memos', which no model declares "
        "any more: write the drop into a revision yourself (`mailcmd db revision -m MESSAGE` "
        "without --autogenerate)\n"
    )
    assert revisions(app_copy) == {made_by}


def test_another_apps_tables_are_left_alone(
    app_copy: Path, mailcmd: Mailcmd, database_url: str
) -> None:
    # A database made before apps had histories of their own, by the bundled tasks app.
    assert mailcmd("db", "upgrade", "--framework", "0c7e3b9d2a41").returncode == 0
    engine = open_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (id, login, password_hash, roles, enabled, created_at)"
                    " VALUES (1, 'alice@app.localhost', 'x', '[]', true, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO tasks (owner_id, title, description, tags, priority, created_at)"
                    " VALUES (1, 'Buy milk', '', '[]', 'normal', CURRENT_TIMESTAMP)"
                )
            )
        assert mailcmd("db", "upgrade").returncode == 0
        before = revisions(app_copy)

        result = mailcmd("db", "revision", "-m", "nothing new", "--autogenerate")

        [written] = revisions(app_copy) - before
        assert result.returncode == 0, result.stderr
        upgrade_body = written.read_text().split("def upgrade")[1].split("def downgrade")[0]
        assert "op." not in upgrade_body
        with engine.connect() as connection:
            assert connection.execute(text("SELECT title FROM tasks")).scalar_one() == "Buy milk"
    finally:
        engine.dispose()


def test_a_database_of_another_app_is_refused_with_one_line(
    app_copy: Path, mailcmd: Mailcmd, mailcmd_for: Callable[[Path], Mailcmd], tmp_path: Path
) -> None:
    assert mailcmd("db", "upgrade").returncode == 0
    other = tmp_path / "otherapp"
    shutil.copytree(app_copy, other)
    for revision in revisions(other):
        revision.unlink()
    model = other / "commands" / "memos.py"
    model.write_text(
        model.read_text().replace('__tablename__ = "memos"', '__tablename__ = "other_memos"')
    )

    result = mailcmd_for(other)("db", "upgrade")

    assert result.returncode == 1
    [memos_revision] = revisions(app_copy)
    assert result.stderr == (
        f"mailcmd: the app ({other / 'migrations'}) schema is at "
        f"{memos_revision.name.split('_')[0]}, a revision {other / 'migrations'} does not "
        "hold: the database belongs to another app, or to a newer version of this one; "
        "give this app a database of its own\n"
    )
