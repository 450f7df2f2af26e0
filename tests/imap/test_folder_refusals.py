"""An app folder that maps little: what it does not map is refused, or undone and answered."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_folders_support import folder, folder_server, login, showing, subjects
from tests.conftest import Cli
from tests.servers import RunningServer, wait_until

PLAIN = Path(__file__).parents[1] / "apps" / "plainfolder"


@pytest.fixture
def notes(accounts: Cli, database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The notes app (a Notes folder of two notes whose star is refused), alice's Notes shown."""
    app = {"commands": PLAIN / "commands", "templates": PLAIN / "templates"}
    with folder_server(accounts, database_url, tmp_path / "state", app) as server:
        showing(server, "Notes", 2)
        yield server


def command(server: RunningServer, *words: str) -> tuple[str, bytes]:
    """Run one UID command in alice's Notes (UID 1 is note 1); return the type and first datum."""
    client = login(server)
    try:
        client.select("Notes")
        typ, data = client.uid(*words)
        return typ, data[0]
    finally:
        client.logout()


def test_deleting_where_the_app_maps_no_deletion_is_refused(notes: RunningServer) -> None:
    assert command(notes, "STORE", "1", "+FLAGS", "(\\Deleted)") == (
        "NO",
        b"[CANNOT] Notes shows the notes app's objects, and deleting one here does nothing",
    )
    assert command(notes, "MOVE", "1", "Trash") == (
        "NO",
        b"[CANNOT] a message of Notes stays in it; copy it to keep it elsewhere",
    )
    assert sorted(subjects(notes, "Notes")) == ["Note 1", "Note 2"]
    assert subjects(notes, "Trash") == []


def test_a_refused_action_takes_the_star_off_again_and_says_why(notes: RunningServer) -> None:
    typ, _ = command(notes, "STORE", "1", "+FLAGS", "(\\Flagged)")
    assert typ == "OK"

    refusal = wait_until(
        lambda: next(iter(folder(notes, "INBOX")), None), "the answer to the refused star"
    )
    assert str(refusal["Subject"]) == 'Not done: flagged "Note 1" in Notes'
    assert "note 1 cannot be pinned today" in refusal.get_body(("plain",)).get_content()

    def flags() -> bytes:
        client = login(notes)
        try:
            client.select("Notes", readonly=True)
            return b" ".join(line for line in client.uid("FETCH", "1:*", "(FLAGS)")[1] if line)
        finally:
            client.logout()

    assert wait_until(lambda: b"\\Flagged" not in flags(), "the star taken off")
