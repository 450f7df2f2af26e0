"""A real Thunderbird shows a long answer as a person should read it (issue 18).

The answer's text is format=flowed: Thunderbird joins a paragraph's soft-broken lines
and wraps the paragraph to its pane; an indented comment keeps its indent on every
line (its lines are hard, each under 78 columns, as `encode_flowed` says why); a blank
line stays blank. The HTML twin shows the same, the comment indented by its margin.
"""

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import trustme

from tests.conftest import ALICE, PASSWORD, Cli
from tests.long_task import COMMENT_INDENT, COMMENTED, INDENTED, PARAGRAPH, long_task_in_inbox
from tests.servers import RunningServer
from tests.thunderbird import (
    HTML_PART,
    NEEDS_THUNDERBIRD,
    TEXT_PART,
    DisplayedPart,
    MailAccount,
    Thunderbird,
    running_thunderbird,
)

pytestmark = NEEDS_THUNDERBIRD


@pytest.fixture
def mail(
    accounts: Cli, database_url: str, tmp_path: Path, certificate_authority: trustme.CA
) -> Iterator[RunningServer]:
    """The bundled app with the long task's answer in alice's INBOX."""
    with long_task_in_inbox(database_url, tmp_path / "mail", certificate_authority) as server:
        yield server


@pytest.fixture
def thunderbird(mail: RunningServer, certificate_authority: trustme.CA) -> Iterator[Thunderbird]:
    """Thunderbird with alice's account, online, its INBOX fetched; one start for both views."""
    account = MailAccount(
        ALICE, PASSWORD, imap_port=mail.port("imaps"), smtp_port=mail.port("submissions")
    )
    with running_thunderbird(account) as running:
        running.go_online(certificate_authority.cert_pem.bytes().decode())
        running.get_messages()
        yield running


def rows_of(shown: DisplayedPart, text: str, start: int = 0) -> list[tuple[str, float]]:
    """The rows, from the `start`th on, that show `text` (a line of it) from its first word.

    The rows are the first ones whose words, read in order, are the words of `text`.
    """
    words = text.split()
    for first in range(start, len(shown.rows)):
        taken: list[str] = []
        for last in range(first, len(shown.rows)):
            taken += shown.rows[last][0].split()
            if taken != words[: len(taken)]:
                break
            if taken == words:
                return shown.rows[first : last + 1]
    raise AssertionError(f"no rows show {text!r}; the pane shows rows {shown.rows}")


def follows(shown: DisplayedPart, line: str, after: list[str]) -> bool:
    """Whether the lines `after` come right after a line `line` in what the pane shows."""
    lines = shown.lines
    return any(
        lines[index] == line and lines[index + 1 : index + 1 + len(after)] == after
        for index in range(len(lines))
    )


def test_thunderbird_shows_a_long_answer_reflowed_with_its_indents_and_blank_lines(
    thunderbird: Thunderbird,
) -> None:
    thunderbird.view_body_as("AsPlaintext")
    thunderbird.open_message(COMMENTED)
    text = thunderbird.message_pane(TEXT_PART)

    assert text.subject == COMMENTED
    # The description, at column 0, is one paragraph: its soft breaks are gone, and the
    # pane, wider than the 78 columns it was sent in, wraps it where a word no longer fits.
    assert text.columns > 78, text.columns
    assert follows(text, PARAGRAPH, ["", INDENTED]), text.text
    description = [row for row, _ in rows_of(text, PARAGRAPH)]
    for row, below in pairwise(description):
        assert len(row) + 1 + len(below.split()[0]) > text.columns, (text.columns, description)
    # The comment keeps its indent on each of its lines, its words in order; its blank
    # line is blank (not four spaces), and its list item keeps its own indent too.
    comment_start = [row for row, _ in text.rows].index("Comments:")
    comment = [row for row, _ in rows_of(text, PARAGRAPH, comment_start)]
    assert len(comment) > 1, comment
    assert all(
        row.startswith(COMMENT_INDENT) and row[len(COMMENT_INDENT)] != " " and len(row) <= 78
        for row in comment
    ), comment
    assert follows(text, comment[-1], ["", COMMENT_INDENT + INDENTED]), text.text

    thunderbird.view_body_as("AllowHTML")
    html = thunderbird.message_pane(HTML_PART)

    # The HTML twin: both paragraphs whole, the blank line and the list item's indent
    # kept; the comment's rows all start at its margin, right of the other text.
    assert html.lines.count(PARAGRAPH) == 2, html.text
    assert follows(html, PARAGRAPH, ["", INDENTED]), html.text
    comment_start = [row for row, _ in html.rows].index("Comments:")
    margin = html.rows[comment_start][1]
    comment_rows = rows_of(html, PARAGRAPH, comment_start) + rows_of(html, INDENTED, comment_start)
    assert {left for _, left in comment_rows} == {comment_rows[0][1]}, comment_rows
    assert comment_rows[0][1] > margin, (margin, comment_rows)
