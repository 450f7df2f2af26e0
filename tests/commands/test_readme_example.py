"""The README's examples: real files, tested, and quoted in the README whole."""

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from mailcmd.app.resources import bundled_path
from mailcmd.parsing.dates import read_date
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


def test_the_walkthroughs_sample_reply_is_what_the_app_sends(
    database_url: str, tmp_path: Path
) -> None:
    readme = README.read_text()
    walkthrough = re.search(
        r"this sample was sent on (\w+) (\d+ \w+ \d{4})\.\)\n\n```\n(.*?)```", readme, re.DOTALL
    )
    assert walkthrough is not None
    sent_on = datetime.strptime(walkthrough.group(2), "%d %B %Y").date()
    assert sent_on.strftime("%A") == walkthrough.group(1)
    sample = walkthrough.group(3)
    shown_key = re.search(r"tasks\+1\.(\w+)@", sample)
    assert shown_key is not None
    with MailTestClient(
        bundled_path("commands"), tmp_path / "demo", database_url=database_url
    ) as demo:
        demo.add_account("demo@app.localhost")
        exchange = demo.send(
            "tasks@app.localhost", "add Buy milk --due friday", "Oat milk, please."
        )
        key = demo.reply_address("tasks", 1).partition(".")[2].partition("@")[0]
    reply = exchange.reply
    seen = (
        f"From: {reply['From']}\nReply-To: {reply['Reply-To']}\nSubject: {reply['Subject']}\n\n"
        f"{exchange.reply_text}"
    )
    # The sample shows the due date the app wrote on the day the README says.
    due_then = read_date("friday", sent_on)
    due_now = read_date("friday", date.today())
    assert seen.replace(key, shown_key.group(1)).replace(str(due_now), str(due_then)) == sample
