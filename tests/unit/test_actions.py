"""Action links without a server: RFC 6068 `mailto:` URIs that send exactly one command."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast
from urllib.parse import unquote

import pytest
from sqlalchemy.orm import Session

from mailcmd.addressing.confirmation_tags import confirmation_id, confirmation_tag, is_reserved
from mailcmd.addressing.reply_keys import ReplyKeys, account_holder
from mailcmd.app.actions import ActionLinks
from mailcmd.app.context import ScheduledContext
from mailcmd.app.rendering import Renderer
from mailcmd.parsing import join_words, split_words

KEYS = ReplyKeys([b"a secret for tests only"])
HOLDER = account_holder(7)


def links(tag: str | None = "42", expires: date | None = None) -> ActionLinks:
    return ActionLinks(
        keys=KEYS, domain="app.example", mailbox="tasks", tag=tag, holder=HOLDER, expires=expires
    )


def test_the_address_carries_the_tag_signed_for_the_holder() -> None:
    address = links().address

    local = address.removesuffix("@app.example")
    assert local.startswith("tasks+42.")
    assert KEYS.check("tasks", local.removeprefix("tasks+"), HOLDER, date.today()) == "42"


def test_without_a_tag_the_address_is_the_bare_mailbox() -> None:
    assert links(tag=None).mailto("list") == "mailto:tasks@app.example?subject=list"


def test_a_confirmation_address_expires_with_its_key() -> None:
    local = links("ok-3", expires=date(2026, 12, 8)).address.removesuffix("@app.example")

    signed = local.removeprefix("tasks+")
    assert KEYS.check("tasks", signed, HOLDER, date(2026, 12, 8)) == "ok-3"
    assert KEYS.check("tasks", signed, HOLDER, date(2026, 12, 9)) != "ok-3"


@pytest.mark.parametrize(
    ("words", "subject"),
    [
        (("done",), "done"),
        (("edit", "--due", "+3d"), "edit%20--due%20%2B3d"),
        (("add", "Buy oat milk"), "add%20%22Buy%20oat%20milk%22"),
        (("add", "Café & crème"), "add%20%22Caf%C3%A9%20%26%20cr%C3%A8me%22"),
        (("share", "bob@app.example"), "share%20bob%40app.example"),
    ],
)
def test_the_subject_is_percent_encoded_utf8_and_reads_back_as_the_same_words(
    words: tuple[str, ...], subject: str
) -> None:
    uri = links().mailto(*words)

    address, _, query = uri.removeprefix("mailto:").partition("?")
    assert address == links().address
    assert query == f"subject={subject}"
    assert split_words(unquote(query.removeprefix("subject="))) == list(words)


def test_numbers_are_written_as_words() -> None:
    assert links(tag=None).mailto("done", 3, 4).endswith("?subject=done%203%204")


@pytest.mark.parametrize("word", ["", "two words", "don't", "'quoted'", "tab\there"])
def test_join_words_quotes_what_split_words_would_split(word: str) -> None:
    assert split_words(join_words(["add", word])) == ["add", word]


def test_a_word_with_a_double_quote_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="double quote"):
        join_words(['say "hi"'])


def test_a_template_writes_a_text_line_and_an_html_link(tmp_path: Path) -> None:
    (tmp_path / "task.txt").write_text('{{ action("done", label="Done") }}\n')
    (tmp_path / "task.html").write_text('<p>{{ action("edit", "--title", "A & B") }}</p>')

    rendered = Renderer([tmp_path]).render("task", {}, links())

    uri = links().mailto("edit", "--title", "A & B")
    assert rendered.text == f"Done: {links().mailto('done')}\n"
    assert rendered.html is not None
    assert rendered.html.startswith(f'<p><a href="{uri.replace("&", "&amp;")}" style="')
    assert rendered.html.endswith(">edit</a></p>")


def test_a_value_named_action_keeps_its_meaning(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("{{ action }}\n")

    assert Renderer([tmp_path]).render("mine", {"action": "list"}, links()).text == "list\n"


def test_confirmation_tags_are_a_namespace_of_their_own() -> None:
    assert confirmation_tag(17) == "ok-17"
    assert confirmation_id("ok-17") == 17
    assert [confirmation_id(tag) for tag in ("17", "ok-", "ok-017", "ok-1x", None)] == [None] * 5
    assert confirmation_id("ok-" + "9" * 19) is None
    assert is_reserved("OK-anything")
    assert not is_reserved("okay")


def test_an_app_cannot_hand_out_a_tag_of_mailcmds_namespace() -> None:
    now = datetime.now(UTC)
    run = ScheduledContext(session=cast(Session, None), slot=now, now=now, domain="app.example")

    with pytest.raises(ValueError, match="mailcmd's own"):
        run.send("bob@app.example", "tasks/task", mailbox="tasks", tag="ok-1")
