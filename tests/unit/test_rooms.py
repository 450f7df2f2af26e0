"""The README's table of rooms and `ls mailcmd/` say the same, and rooms only describe."""

import ast
import re
from pathlib import Path

import mailcmd

PACKAGE = Path(mailcmd.__file__).parent
README = Path(__file__).resolve().parents[2] / "README.md"
# Files of the package itself rather than rooms of it.
NOT_ROOMS = {"__init__.py", "__main__.py", "py.typed"}
# The rooms whose `__init__.py` shows a face: the pure leaves, which import no other
# room and so cannot make a cycle, the test door, and the command line's entry point.
WITH_A_FACE = {"parsing/", "message/", "testing/", "cli/"}


def rooms_in_readme() -> set[str]:
    """The first column of the README's table between `<!-- rooms -->` markers."""
    text = README.read_text()
    table = text.split("<!-- rooms -->", 1)[1].split("<!-- /rooms -->", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE))


def rooms_in_package() -> set[str]:
    """What `ls mailcmd/` shows, folders with a slash, caches left out."""
    return {
        f"{entry.name}/" if entry.is_dir() else entry.name
        for entry in PACKAGE.iterdir()
        if entry.name not in NOT_ROOMS and entry.name != "__pycache__"
    }


def test_the_readme_names_every_room_and_no_other() -> None:
    in_readme, in_package = rooms_in_readme(), rooms_in_package()
    assert in_package - in_readme == set(), "rooms the README's table does not name"
    assert in_readme - in_package == set(), "rooms the README names that do not exist"


def test_a_room_describes_itself_and_only_the_leaves_show_a_face() -> None:
    with_more: set[str] = set()
    for room in sorted(name for name in rooms_in_package() if name.endswith("/")):
        tree = ast.parse((PACKAGE / room / "__init__.py").read_text())
        assert ast.get_docstring(tree), f"{room} says nothing of what it owns"
        if len(tree.body) > 1:
            with_more.add(room)
    # A face on a room that imports other rooms is how import cycles came about.
    assert with_more == WITH_A_FACE
