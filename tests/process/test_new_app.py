"""`mailcmd new`, and the README's way from it to an app that answers mail, as a person types it.

The commands run as processes of their own, in the app's folder, with no MAILCMD_
settings but the ports (`clean_environment`): what `mailcmd.toml` says is what counts.
"""

import email
import imaplib
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from pathlib import Path

from tests.conftest import Cli
from tests.servers import clean_environment, mailcmd_command, serve_process, wait_until

NOTESAPP = Path(__file__).parents[1] / "examples" / "notesapp"
ALICE = "alice@app.localhost"
PASSWORD = "correct horse battery"
# Seconds one command may take; pytest in the app starts a server for each test.
COMMAND_TIMEOUT = 120


def run(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    input: str | None = None,
    exit_code: int = 0,
) -> subprocess.CompletedProcess[str]:
    """Run a command in `cwd` as typed in a terminal; another exit code than `exit_code`
    fails the test, saying why."""
    result = subprocess.run(
        args,
        cwd=cwd,
        env=env or clean_environment(),
        input=input,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == exit_code, f"{' '.join(args)}: {result.stdout}{result.stderr}"
    return result


def test_new_refuses_a_folder_that_holds_anything(empty_cli: Cli) -> None:
    folder = Path("app")
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")

    result = empty_cli("new", "app")

    assert result.exit_code == 2
    assert result.stderr == "mailcmd: app is not empty: name a new or empty folder\n"
    assert [path.name for path in folder.iterdir()] == ["notes.txt"]


def test_autogenerate_right_after_new_finds_nothing_to_change(
    tmp_path: Path, database_url: str
) -> None:
    env = clean_environment(MAILCMD_DATABASE_URL=database_url)
    run(*mailcmd_command(), "new", "app", cwd=tmp_path, env=env)
    app = tmp_path / "app"
    run(*mailcmd_command(), "db", "upgrade", cwd=app, env=env)
    [first] = (app / "migrations").glob("*.py")

    run(*mailcmd_command(), "db", "revision", "-m", "nothing", "--autogenerate", cwd=app, env=env)

    [written] = set((app / "migrations").glob("*.py")) - {first}
    upgrade = written.read_text().split("def upgrade")[1].split("def downgrade")[0]
    assert "op." not in upgrade


def test_autogenerate_before_the_first_upgrade_says_to_upgrade(tmp_path: Path) -> None:
    run(*mailcmd_command(), "new", "app", cwd=tmp_path)
    app = tmp_path / "app"
    [first] = (app / "migrations").glob("*.py")

    result = run(
        *mailcmd_command(), "db", "revision", "-m", "x", "--autogenerate", cwd=app, exit_code=1
    )

    assert result.stderr == (
        f"mailcmd: the app ({app / 'migrations'}) schema is at nothing (empty database), "
        f"not at its head {first.name.split('_')[0]}: run `mailcmd db upgrade`\n"
    )
    assert list((app / "migrations").glob("*.py")) == [first]


def test_from_new_to_an_app_that_answers_mail_and_passes_its_tests(tmp_path: Path) -> None:
    made = run(*mailcmd_command(), "new", "notesapp", cwd=tmp_path)
    app = tmp_path / "notesapp"
    assert re.search(r"^wrote notesapp/migrations/\w+_journal_entries\.py$", made.stdout, re.M)
    # The README's model, command, template and test of the table, added to the app.
    shutil.copytree(NOTESAPP, app, dirs_exist_ok=True)
    mailcmd = mailcmd_command()
    run(*mailcmd, "db", "upgrade", cwd=app)
    before = set((app / "migrations").glob("*.py"))

    run(*mailcmd, "db", "revision", "-m", "notes", "--autogenerate", cwd=app)

    [revision] = set((app / "migrations").glob("*.py")) - before
    upgrade = revision.read_text().split("def upgrade")[1].split("def downgrade")[0]
    assert re.search(r"create_table\(\s*['\"]notes['\"]", upgrade)
    assert "drop_" not in upgrade
    assert run(*mailcmd, "db", "upgrade", cwd=app).stdout.endswith("(head)\n")
    run(*mailcmd, "users", "add", ALICE, "--password-stdin", cwd=app, input=PASSWORD)

    serving = clean_environment(MAILCMD_IMAP__TLS_PORT="0")
    with serve_process([*mailcmd, "serve"], cwd=app, env=serving) as served:
        certificate = ssl.create_default_context(
            cafile=str(app / ".mailcmd" / "tls" / "dev-cert.pem")
        )
        send_as_alice(served.port("submission"), certificate, "add Call the plumber")
        reply = read_only_mail(served.port("imaps"), certificate)
        assert served.stop() == 0

    assert reply["From"] == "notes@app.localhost"
    assert reply["Subject"] == "Note 1 added: Call the plumber"
    tested = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=app)
    assert re.search(r"^2 passed", tested.stdout, re.M), tested.stdout


def send_as_alice(port: int, context: ssl.SSLContext, subject: str) -> None:
    """Submit a mail from alice to notes@ as a mail client does: STARTTLS, then AUTH."""
    mail = EmailMessage()
    mail["From"] = ALICE
    mail["To"] = "notes@app.localhost"
    mail["Subject"] = subject
    mail.set_content("\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=COMMAND_TIMEOUT) as client:
        client.starttls(context=context)
        client.login(ALICE, PASSWORD)
        client.send_message(mail)


def read_only_mail(port: int, context: ssl.SSLContext) -> EmailMessage:
    """Wait for alice's INBOX to hold a mail, over IMAP, and return the first one."""
    with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=COMMAND_TIMEOUT) as imap:
        imap.login(ALICE, PASSWORD)
        wait_until(lambda: int(imap.select("INBOX", readonly=True)[1][0] or 0), "a reply")
        _, data = imap.fetch("1", "(RFC822)")
    part = data[0]
    assert isinstance(part, tuple)
    parsed = email.message_from_bytes(part[1], policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
