"""Declaring an app: decorators, mistakes found at start-up, and `mailcmd commands`."""

import json
import re
from datetime import date
from pathlib import Path

import pytest

from mailcmd.app.context import Context
from mailcmd.app.folders import FolderContext, FolderItem
from mailcmd.app.registry import MailApp, RegistrationError, Registry
from mailcmd.parsing import SignatureError
from tests.conftest import Cli, StartServer

APPS = Path(__file__).parents[1] / "apps"
README = Path(__file__).parents[2] / "README.md"


def test_decorators_record_and_return_the_function_unchanged() -> None:
    app = MailApp()
    box = app.mailbox("box")

    def handler(ctx: Context, title: str) -> None:
        """Do it."""

    registered = box.command("do")(handler)

    assert registered is handler
    assert box.commands["do"].usage() == "do TITLE"
    assert box.commands["do"].summary == "Do it."


def test_a_verb_registered_twice_names_both_places() -> None:
    box = MailApp().mailbox("box")

    @box.command("do")
    def first(ctx: Context) -> None: ...

    with pytest.raises(
        RegistrationError, match=r"verb 'do' registered twice: .*first and .*second"
    ):

        @box.command("do")
        def second(ctx: Context) -> None: ...


def test_an_unsupported_parameter_type_names_function_and_parameter() -> None:
    box = MailApp().mailbox("box")

    with pytest.raises(SignatureError, match=r"go: parameter 'when': unsupported type"):

        @box.command("go")
        def go(ctx: Context, when: set[int]) -> None: ...


@pytest.mark.parametrize(
    ("signature", "problem"),
    [
        ("def f(ctx: Context, flag: bool) -> None: ...", "a bool must have a default"),
        ("def f(ctx: Context, *words: str) -> None: ...", "*args and **kwargs"),
        ("def f(ctx: Context, title) -> None: ...", "needs a type annotation"),
        ("def f(ctx: Context, tags: list[str], more: str) -> None: ...", "comes after the list"),
        ("def f(ctx: Context, tags: list[str] = ['x']) -> None: ...", "must be empty"),
    ],
)
def test_signatures_mail_cannot_serve_are_refused(signature: str, problem: str) -> None:
    namespace: dict[str, object] = {"Context": Context, "date": date}
    exec(signature, namespace)  # noqa: S102 - building test handlers from source
    box = MailApp().mailbox("box")

    with pytest.raises(SignatureError, match=re.escape(problem)):
        box.command("f")(namespace["f"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("example", "problem"),
    [
        ("move 3 --to fri", "example='move 3 --to fri': it must start with the verb 'go'"),
        ("go three", "example='go three': ITEM: expected a whole number like 42"),
        ('go 3 "tomorrow', "example='go 3 \"tomorrow': unbalanced quote"),
    ],
)
def test_an_example_that_would_not_run_is_refused_naming_the_function(
    example: str, problem: str
) -> None:
    box = MailApp().mailbox("box")

    with pytest.raises(
        RegistrationError, match=r"test_registration.py:\d+ .*go: " + re.escape(problem)
    ):

        @box.command("go", example=example)
        def go(ctx: Context, item: int, to: date | None = None) -> None: ...


def test_registration_is_frozen_once_serving() -> None:
    app = MailApp()
    box = app.mailbox("box")
    Registry.merge([("test", app)])

    with pytest.raises(RegistrationError, match="already serving"):

        @box.command("late")
        def late(ctx: Context) -> None: ...


def test_a_folder_function_takes_a_folder_context_and_a_folder_is_declared_once() -> None:
    box = MailApp().mailbox("box")

    @box.folder("Things", template="box/thing")
    def things(ctx: FolderContext) -> list[FolderItem]:
        return []

    with pytest.raises(RegistrationError, match=r"folder 'Things' declared twice: .*things and"):

        @box.folder("Things", template="box/thing")
        def again(ctx: FolderContext) -> list[FolderItem]:
            return []

    with pytest.raises(RegistrationError, match=r"stuff: a folder's function takes one parameter"):

        @box.folder("Stuff", template="box/thing")
        def stuff(ctx: Context) -> list[FolderItem]:
            return []


@pytest.mark.parametrize(
    ("flag", "problem"),
    [
        ("\\Deleted", "the system flags a folder may map are"),
        ("\\Recent", "the system flags a folder may map are"),
        ("Not done", "a keyword has no spaces"),
        ("$Done]", "a keyword has no spaces"),
        ("", "a keyword has 1 to 64 characters"),
    ],
)
def test_a_folder_maps_only_flags_a_client_can_set(flag: str, problem: str) -> None:
    box = MailApp().mailbox("box")

    with pytest.raises(RegistrationError, match=rf"things: flag .*: {re.escape(problem)}"):

        @box.folder("Things", template="box/thing", flags={flag: ("done", None)})
        def things(ctx: FolderContext) -> list[FolderItem]:
            return []


def test_a_tag_must_name_a_parameter() -> None:
    box = MailApp().mailbox("box")

    with pytest.raises(RegistrationError, match="tag='task' names no parameter"):

        @box.command("show", tag="task")
        def show(ctx: Context, number: int) -> None: ...


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("clash", "mailbox 'notes' declared twice: in .*first.py:app and in .*second.py:app"),
        ("badsig", "bad.py: .*parameter 'when': unsupported type 'set"),
        ("notemplate", "missing.py:.* go: template 'box/nowhere' not found"),
        (
            "inboxfolder",
            "inbox.py:.* things: folder 'Inbox/Things': every account has that folder",
        ),
        ("folderclash", "folder 'things' declared twice: .*one.py:.* first and .*two.py:.* second"),
        (
            "folderaction",
            "box.py:.* things: folder 'Things': 'archive' is not a command of box@"
            r" \(its commands: finish\)",
        ),
    ],
)
def test_app_mistakes_stop_mailcmd_with_one_line_naming_the_place(
    cli: Cli, folder: str, message: str
) -> None:
    cli.env["MAILCMD_COMMANDS"] = str(APPS / folder)

    listed = cli("commands")
    served = cli("serve")

    for result in (listed, served):
        assert result.exit_code == 2
        [line] = result.stderr.splitlines()
        assert line.startswith("mailcmd: ")
        assert re.search(message, line), line


def test_commands_lists_every_address_verb_usage_and_policy(cli: Cli) -> None:
    table = cli("commands")
    listed = json.loads(cli("commands", "--json").stdout)

    add = next(row for row in listed if row["verb"] == "add")
    assert add["address"] == "tasks@app.localhost"
    assert add["summary"].startswith("Add a task;")
    assert add["example"] == "add Buy milk --due +2w --tag home"
    due = next(option for option in add["options"] if option["name"] == "--due DATE")
    assert due["description"].startswith("The day it is due, when its owner is reminded.")
    assert "+2w" in due["description"]
    assert not add["builtin"]
    assert add["usage"].startswith("add TITLE [--due DATE]")
    assert add["policy"] == "accounts"
    assert {row["verb"] for row in listed} >= {"add", "list", "show", "done"}
    # mailcmd's own mailboxes are apps too, listed with the app's.
    builtin = {row["address"]: row["policy"] for row in listed if row["verb"] == "(default)"}
    assert builtin["help@app.localhost"] == "anyone"
    assert builtin["confirm@app.localhost"] == "anyone"
    # By address, each usage line with what it does and who may under it, in 78 columns.
    lines = table.stdout.splitlines()
    tasks_at = lines.index("tasks@app.localhost")
    add_at = lines.index("  " + add["usage"])
    assert tasks_at < add_at
    assert lines[add_at + 1] == (
        "      Add a task; the mail's text becomes its description, its attachments"
    )
    assert lines[add_at + 2] == "      stay with it. Who: accounts."
    usages = {"  " + row["usage"] for row in listed}
    assert all(len(line) <= 78 for line in lines if line not in usages)
    assert "SCHEDULED JOB" in table.stdout
    assert ["tasks.remind", "cron", "0", "8", "*", "*", "*", "(UTC)"] in [
        line.split() for line in table.stdout.splitlines()
    ]
    # What a client's actions in the app's folders run, as the folders declare it.
    folders = table.stdout.split("APP FOLDER")[1].splitlines()[1:]
    assert [line.split(maxsplit=1)[1].split("  ")[0] for line in folders[:6]] == [
        "sets \\Flagged",
        "clears \\Flagged",
        "sets $Done",
        "clears $Done",
        "moves a message in",
        "deletes a message",
    ]
    assert "Tasks/Done  moves a message in  done" in folders


def test_the_readmes_table_of_the_bundled_app_is_what_mailcmd_commands_lists(cli: Cli) -> None:
    listed = json.loads(cli("commands", "--json").stdout)
    section = README.read_text().split("### The bundled app\n")[1].split("\n\n- ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]

    def cell(text: str) -> str:
        return text.strip().strip("`").replace("\\|", "|")

    table = [[cell(text) for text in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]
    assert table == [
        [row["address"].split("@")[0] + "@", row["usage"], row["summary"], row["example"]]
        for row in listed
        if not row["builtin"]
    ]


def test_rcpt_accepts_mailboxes_and_the_help_address_and_refuses_a_bare_plus_tag(
    start_server: StartServer,
) -> None:
    server = start_server()
    client = server.submission()
    client.login("alice@app.localhost", "correct horse battery")
    client.mail("alice@app.localhost")

    answers = [
        client.rcpt(address)[0]
        for address in (
            "tasks@app.localhost",
            "tasks+42@app.localhost",
            "help@app.localhost",
            "nosuchbox@app.localhost",
        )
    ]

    # A plus-tag without its key names an object but acts for no one.
    assert answers == [250, 550, 250, 550]


@pytest.mark.parametrize("name", ["help", "confirm", "Confirm"])
def test_the_addresses_mailcmd_answers_itself_cannot_be_mailboxes(name: str) -> None:
    with pytest.raises(RegistrationError, match="mailcmd answers it"):
        MailApp().mailbox(name)
