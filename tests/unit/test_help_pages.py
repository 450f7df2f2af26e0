"""Help pages as the help mail renders them, from declarations alone: no server."""

from datetime import date

from mailcmd.app.context import Context, Sender
from mailcmd.app.help import HELP_WIDTH, help_page, option_lines
from mailcmd.app.registry import MailApp, Registry
from mailcmd.app.rendering import Renderer
from mailcmd.app.resources import bundled_path

ALICE = Sender(address="alice@app.example", account_id=1, login="alice@app.example")


def rendered_help(app: MailApp, mailbox: str, verb: str) -> tuple[str, str]:
    registry = Registry.merge([("test", app)])
    page = help_page(registry, ALICE, "app.example", registry.mailboxes[mailbox], verb)
    rendered = Renderer([bundled_path("templates")]).render("mailcmd/help", {"page": page})
    assert rendered.html is not None
    return rendered.text, rendered.html


def test_a_command_without_descriptions_still_gets_a_readable_page() -> None:
    app = MailApp()
    box = app.mailbox("box")

    @box.command("move")
    def move(ctx: Context, item: int, to: date, copies: int = 1, quiet: bool = False) -> None:
        pass

    text, html = rendered_help(app, "box", "move")

    assert text.splitlines() == [
        "NAME",
        "    move",
        "",
        "SYNOPSIS",
        "    To box@app.example, the subject:",
        "    move ITEM TO [--copies NUMBER] [--quiet]",
        "",
        "OPTIONS",
        "    ITEM             A whole number.",
        "    TO               A date: 2026-12-24, yesterday, today, tomorrow, a",
        "                     weekday (friday or fri: the next one, never today), or",
        "                     days or weeks from today (+3d, +2w, -1d).",
        "    --copies NUMBER  A whole number. Default: 1.",
        "    --quiet          A flag. Default: off.",
    ]
    assert "<code>--copies NUMBER</code></td><td>A whole number. Default: 1.</td>" in html


def test_a_long_usage_line_wraps_between_parameters_and_the_description_follows() -> None:
    app = MailApp()
    box = app.mailbox("box")

    @box.command("file", example="file report --under archive/2026 --label q4 --label tax")
    def file(
        ctx: Context,
        name: str,
        under: str = "inbox",
        label: list[str] = [],  # noqa: B006 - read only, as the parser gives a new list
        keep_original_after_filing: bool = True,
        notify_the_owner_of_the_folder: bool = False,
    ) -> None:
        """File a document under a folder.

        The folder is made when it does not exist yet, and every label given is
        added to the document's own.
        """

    text, _ = rendered_help(app, "box", "file")

    assert max(len(line) for line in text.splitlines()) <= HELP_WIDTH
    assert (
        "    file NAME [--under UNDER] [--label LABEL ...]\n"
        "        [--no-keep-original-after-filing] [--notify-the-owner-of-the-folder]\n"
    ) in text
    assert (
        "    --no-keep-original-after-filing\n                       A flag. Default: on." in text
    )
    assert "DESCRIPTION\n    The folder is made when it does not exist yet," in text
    assert text.endswith("EXAMPLE\n    file report --under archive/2026 --label q4 --label tax\n")


def test_options_line_up_and_a_long_name_puts_its_description_below() -> None:
    lines = option_lines(
        [
            ("NAME", "What it is called."),
            ("--under FOLDER", "Where it goes."),
            ("--notify-the-owner-of-the-folder", "Tell them."),
        ]
    )

    assert lines == [
        "    NAME            What it is called.",
        "    --under FOLDER  Where it goes.",
        "    --notify-the-owner-of-the-folder",
        "                    Tell them.",
    ]
