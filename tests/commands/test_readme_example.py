"""The README's examples: real files, tested, and quoted in the README whole."""

from pathlib import Path

import pytest

from mailcmd.testing import MailTestClient

EXAMPLE = Path(__file__).parents[1] / "examples"
README = Path(__file__).parents[2] / "README.md"


@pytest.fixture
def units(database_url: str, tmp_path: Path) -> MailTestClient:
    with MailTestClient(
        EXAMPLE / "commands",
        tmp_path / "units",
        database_url=database_url,
        templates=EXAMPLE / "templates",
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("convert 21.5 c f", "21.5 c = 70.7 f"),
        ("convert 10 km mi", "10.0 km = 6.21 mi"),
        ("Re: convert 212 f c", "212.0 f = 100.0 c"),
    ],
)
def test_the_example_converts_for_anyone(
    units: MailTestClient, subject: str, expected: str
) -> None:
    exchange = units.send("units@app.localhost", subject, login="", sender="bo@example.org")

    assert exchange.reply["Subject"] == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("convert 3 km c", "km cannot be converted to c"),
        ("convert warm c f", "VALUE: expected a number"),
        ("convert 3 km", "TO is missing"),
    ],
)
def test_the_example_explains_mistakes(units: MailTestClient, subject: str, expected: str) -> None:
    exchange = units.send("units@app.localhost", subject, login="", sender="bo@example.org")

    assert expected in exchange.reply_text


def test_the_readme_shows_the_examples_help_page_as_it_is_sent(units: MailTestClient) -> None:
    exchange = units.send("units@app.localhost", "help convert", login="", sender="bo@example.org")

    assert exchange.reply["Subject"] == "Help: convert"
    assert f"```\n{exchange.reply_text}```\n" in README.read_text()


def test_the_readme_quotes_every_example_file_whole() -> None:
    readme = README.read_text()
    examples = [path for path in EXAMPLE.rglob("*") if path.is_file()]

    assert [path for path in examples if path.read_text() not in readme] == []
    assert EXAMPLE / "commands" / "units.py" in examples
    assert EXAMPLE / "notesapp" / "commands" / "notes.py" in examples
