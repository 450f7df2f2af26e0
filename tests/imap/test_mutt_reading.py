"""mutt, a text client at a terminal, shows a long answer as a person should read it (issue 18).

mutt reads alice's INBOX over IMAP with implicit TLS, as a person's mutt does, and
shows the answer with `reflow_text` (its default): the format=flowed text is joined
into paragraphs and wrapped again at `reflow_wrap`, 78 columns, on a terminal 100
columns wide. Its pager is `cat` into a file, so that the test reads the lines mutt
shows, decoded and reflowed.
"""

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.conftest import ALICE, PASSWORD, Cli
from tests.long_task import (
    COMMENT_INDENT,
    COMMENTED,
    INDENTED,
    PARAGRAPH,
    TITLE,
    long_task_in_inbox,
)
from tests.servers import TIMEOUT, RunningServer

MUTT = shutil.which("mutt")
# mutt needs a terminal: `script` (Debian's essential bsdutils) gives it one.
SCRIPT = shutil.which("script")
COLUMNS = 100
# What the lines of mutt's display may take at most: `reflow_wrap`'s default.
REFLOW_WRAP = 78

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        MUTT is None or SCRIPT is None, reason="mutt is not installed (apt-get install mutt)"
    ),
]

# mutt's control sequences for the terminal, left out of what a failure reports.
TERMINAL_CONTROL = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Z0-9]|[=>])")


@pytest.fixture
def server(
    accounts: Cli, database_url: str, tmp_path: Path
) -> Iterator[tuple[RunningServer, trustme.CA]]:
    """The bundled app with the long task's answer in alice's INBOX, and the CA it trusts."""
    authority = trustme.CA()
    with long_task_in_inbox(database_url, tmp_path / "mail", authority) as running:
        yield running, authority


def muttrc(imaps_port: int, ca: Path, shown: Path) -> str:
    """A muttrc that reads alice's INBOX and shows a message by writing it to `shown`."""
    return f"""
set folder="imaps://127.0.0.1:{imaps_port}/"
set spoolfile="+INBOX"
set imap_user="{ALICE}"
set imap_pass="{PASSWORD}"
set ssl_ca_certificates_file="{ca}"
set header_cache=""
set message_cachedir=""
set sort=date
set reflow_text=yes
ignore *
unignore from: to: subject: date:
set pager="cat > '{shown}' <"
unset prompt_after
set wait_key=no
set quit=yes
"""


def shown_by_mutt(imaps_port: int, authority: trustme.CA, folder: Path) -> str:
    """Open the INBOX in mutt, show its newest message, quit; the text mutt showed."""
    assert MUTT is not None
    assert SCRIPT is not None
    ca, shown, rc = folder / "ca.pem", folder / "shown.txt", folder / "muttrc"
    authority.cert_pem.write_to_path(str(ca))
    rc.write_text(muttrc(imaps_port, ca, shown))
    keys = "push <last-entry><display-message><quit>"
    command = f"stty cols {COLUMNS} rows 40; {MUTT} -n -F '{rc}' -R -e '{keys}'"
    try:
        finished = subprocess.run(
            [SCRIPT, "-qec", command, "/dev/null"],
            env={"HOME": str(folder), "TERM": "xterm", "PATH": "/usr/bin:/bin"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
        )
        screen, code = finished.stdout, finished.returncode
    except subprocess.TimeoutExpired as expired:
        screen, code = expired.stdout or b"", None
    if code != 0 or not shown.exists():
        printed = TERMINAL_CONTROL.sub("", screen.decode(errors="replace"))
        raise AssertionError(f"mutt ended with {code} and showed nothing; it printed {printed!r}")
    return shown.read_text()


def test_mutt_shows_a_long_answer_reflowed_within_78_columns_with_indents_and_blank_lines(
    server: tuple[RunningServer, trustme.CA], tmp_path: Path
) -> None:
    running, authority = server
    shown = shown_by_mutt(running.port("imaps"), authority, tmp_path)

    # mutt's pager shows a status line, the headers, then the text.
    _, headers, body = shown.split("\n\n", 2)
    assert f"Subject: {COMMENTED}" in headers.splitlines(), shown
    lines = body.splitlines()
    assert all(len(line) <= REFLOW_WRAP for line in lines), shown
    # The description: one paragraph, wrapped by mutt, its words all there in order; its
    # blank line is blank and its list item keeps its indent.
    start = lines.index("", lines.index(f"Task 1: {TITLE}")) + 1
    end = lines.index("", start)
    assert end - start > 1, shown
    assert " ".join(lines[start:end]).split() == PARAGRAPH.split(), shown
    assert lines[end + 1] == INDENTED, shown
    # The comment: every line of its paragraph keeps the indent, and so does its list
    # item, after a blank line that is blank (not four spaces).
    start = lines.index("Comments:") + 2
    end = lines.index("", start)
    paragraph = lines[start:end]
    assert all(
        line.startswith(COMMENT_INDENT) and line[len(COMMENT_INDENT)] != " " for line in paragraph
    ), shown
    assert " ".join(paragraph).split() == PARAGRAPH.split(), shown
    assert lines[end + 1] == COMMENT_INDENT + INDENTED, shown
