"""The tasks@ app's `import` and `export`: tasks in a CSV file, through the real SMTP path."""

import csv
import io
from email.message import EmailMessage

import pytest
from sqlalchemy import text

from mailcmd.testing import Exchange, MailTestClient
from tests.conftest import ALICE

TASKS = "tasks@app.localhost"
BOB = "bob@app.localhost"
THREE_TASKS = (
    "title,due,tags,priority\r\n"
    "Buy milk,2030-01-05,home shop,high\r\n"
    "Call Ann,,,\r\n"
    '"Write report, part 2",2030-02-01,work,low\r\n'
)


def send_csv(
    mail: MailTestClient,
    data: bytes,
    *,
    subject: str = "import",
    filename: str | None = "tasks.csv",
    content_type: str = "text/csv",
    charset: str | None = "utf-8",
    login: str = ALICE,
) -> Exchange:
    message = mail.compose(TASKS, subject, "", login, None)
    maintype, subtype = content_type.split("/")
    params = {"charset": charset} if charset else {}
    message.add_attachment(
        data, maintype=maintype, subtype=subtype, filename=filename, params=params
    )
    return mail.send(TASKS, message=message, login=login)


def task_rows(mail: MailTestClient) -> list[tuple[str, str | None, str, str]]:
    with mail.database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT title, due, tags, priority FROM tasks ORDER BY id")
        ).all()
    return [(title, str(due) if due else None, str(tags), prio) for title, due, tags, prio in rows]


def csv_part(reply: EmailMessage) -> EmailMessage:
    parts = [part for part in reply.iter_attachments() if isinstance(part, EmailMessage)]
    assert len(parts) == 1
    return parts[0]


def exported_rows(reply: EmailMessage) -> list[dict[str, str]]:
    data = csv_part(reply).get_content()
    return list(csv.DictReader(io.StringIO(str(data), newline="")))


def refusal(exchange: Exchange) -> str:
    assert exchange.reply["Subject"].strip().startswith("Not done")
    return " ".join(exchange.reply_text.split())


def test_a_csv_of_three_rows_imports_three_tasks_and_export_returns_them_as_text_csv(
    mail: MailTestClient,
) -> None:
    imported = send_csv(mail, THREE_TASKS.encode())
    exported = mail.send(TASKS, "export")

    assert imported.reply["Subject"] == "Imported 3 tasks from tasks.csv"
    assert "   1  2030-01-05  high    Buy milk  #home #shop" in imported.reply_text
    assert "   2  -           normal  Call Ann" in imported.reply_text
    assert "Write report, part 2" in imported.reply_text
    part = csv_part(exported.reply)
    assert part.get_content_type() == "text/csv"
    assert part.get_filename() == "tasks.csv"
    assert part.get_content_charset() == "utf-8"
    assert exported.reply["Subject"] == "Open tasks in tasks.csv (3)"
    assert exported_rows(exported.reply) == [
        {"title": "Buy milk", "due": "2030-01-05", "tags": "home shop", "priority": "high"},
        {"title": "Call Ann", "due": "", "tags": "", "priority": "normal"},
        {"title": "Write report, part 2", "due": "2030-02-01", "tags": "work", "priority": "low"},
    ]


def test_an_export_imported_again_makes_the_same_tasks(mail: MailTestClient) -> None:
    mail.send(TASKS, "add '=cmd|\" /C calc\"!A0' --due 2031-03-04 --tag '@home' --tag x")
    mail.send(TASKS, "add 'Two words' --tag 'with space' --priority low")
    mail.send(TASKS, "add -- '-minus first'")
    exported = csv_part(mail.send(TASKS, "export").reply)
    before = task_rows(mail)

    send_csv(mail, exported.get_payload(decode=True))

    after = task_rows(mail)
    assert after == before + before


def test_an_exported_formula_cell_is_neutralised(mail: MailTestClient) -> None:
    mail.send(TASKS, 'add \'=HYPERLINK("http://evil.example","click")\' --tag +sum')
    mail.send(TASKS, "add '@SUM(1+1)'")

    rows = exported_rows(mail.send(TASKS, "export").reply)

    assert rows[0]["title"] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[0]["tags"] == "'+sum"
    assert rows[1]["title"] == "'@SUM(1+1)"
    assert all(
        not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
        for row in rows
        for cell in row.values()
    )


def test_export_shows_only_the_senders_tasks_and_all_adds_the_done_ones(
    mail: MailTestClient,
) -> None:
    mail.add_account(BOB)
    mail.send(TASKS, "add Bob's secret", login=BOB)
    mail.send(TASKS, "add Open one", login=ALICE)
    mail.send(TASKS, "add Done one", login=ALICE)
    mail.send(TASKS, "done 3", login=ALICE)

    open_tasks = exported_rows(mail.send(TASKS, "export", login=ALICE).reply)
    every_task = exported_rows(mail.send(TASKS, "export --all", login=ALICE).reply)

    assert [row["title"] for row in open_tasks] == ["Open one"]
    assert [row["title"] for row in every_task] == ["Open one", "Done one"]


def test_import_reads_a_bom_semicolons_and_a_declared_charset(mail: MailTestClient) -> None:
    spreadsheet = "\ufeffTitle;Due\r\nCafé;2030-01-01\r\n".encode()
    latin = "title,due\nCrème brûlée,\n".encode("iso-8859-1")

    send_csv(mail, spreadsheet, charset=None)
    send_csv(mail, latin, charset="iso-8859-1")

    assert [row[:2] for row in task_rows(mail)] == [
        ("Café", "2030-01-01"),
        ("Crème brûlée", None),
    ]


def test_a_csv_sent_as_a_spreadsheet_type_is_taken_by_its_name(mail: MailTestClient) -> None:
    exchange = send_csv(
        mail, b"title,due\nOne,\n", content_type="application/vnd.ms-excel", charset=None
    )

    assert exchange.reply["Subject"] == "Imported 1 task from tasks.csv"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"title,due\nGood,2030-01-01\nBad,someday\n",
            "'tasks.csv', row 3: due: expected a date like 2026-12-01, got 'someday'",
        ),
        (
            b"title,due,priority\nOne,,urgent\n",
            "'tasks.csv', row 2: priority: expected one of low, normal, high, got 'urgent'",
        ),
        (b"title,due\n,2030-01-01\n", "'tasks.csv', row 2: title is empty"),
        (b"title,due\nOne,,extra\n", "'tasks.csv', row 2: cell 3 'extra' has no column"),
        (b"title\nOne\n", "'tasks.csv': the column due is missing"),
        (b"titel,due\nOne,\n", "unknown column 'titel'; did you mean 'title'?"),
        (b"title,due,title\nOne,,Two\n", "the column title is named twice"),
        (b"title,due\n", "'tasks.csv' has no rows below its header"),
        (b"", "'tasks.csv' is empty"),
        (b'title,due\n"One,\n', "'tasks.csv', line 2: not readable as CSV"),
        (b"title,due\nCaf\xe9,\n", "'tasks.csv' is not utf-8 text (byte 14 is not)"),
    ],
)
def test_a_bad_csv_creates_nothing_and_says_which_row_and_why(
    mail: MailTestClient, data: bytes, expected: str
) -> None:
    exchange = send_csv(mail, data)

    assert expected in refusal(exchange)
    assert "import <attach CSV>" in exchange.reply_text
    assert task_rows(mail) == []


def test_an_import_of_more_tasks_than_one_import_takes_creates_nothing(
    mail: MailTestClient,
) -> None:
    exchange = send_csv(mail, b"title,due\n" + b"x,\n" * 1001)

    assert "at most 1000 tasks in one import, got 1001" in refusal(exchange)
    assert task_rows(mail) == []


def test_import_without_a_file_or_with_the_wrong_files_creates_nothing(
    mail: MailTestClient,
) -> None:
    missing = mail.send(TASKS, "import")
    wrong_type = send_csv(mail, b"\x89PNG", filename="photo.png", content_type="image/png")
    too_big = send_csv(mail, b"title,due\n" + b"x,\n" * 400_000)
    message = mail.compose(TASKS, "import", "", ALICE, None)
    for name in ("a.csv", "b.csv"):
        message.add_attachment(b"title,due\nOne,\n", maintype="text", subtype="csv", filename=name)
    two = mail.send(TASKS, message=message)

    assert "CSV is missing: attach a CSV file" in refusal(missing)
    assert "'photo.png' is image/png; CSV takes text/csv or .csv" in refusal(wrong_type)
    assert "'tasks.csv' is 1.2 MB; CSV takes at most 1 MB" in refusal(too_big)
    assert "CSV takes one file, got 2: 'a.csv', 'b.csv'" in refusal(two)
    assert task_rows(mail) == []


def test_help_shows_the_file_a_command_takes_and_its_limits(mail: MailTestClient) -> None:
    general = mail.send(TASKS, "help").reply_text
    verb = " ".join(mail.send(TASKS, "help import").reply_text.split())

    assert "import <attach CSV>" in general
    assert "To tasks@app.localhost, the subject: import <attach CSV>" in verb
    assert (
        "<attach CSV> The tasks to add. A CSV file with a header row naming the columns "
        "title, due (optional: tags, priority). Accepts text/csv or .csv, at most 1 MB."
    ) in verb


def test_an_export_reaches_the_senders_inbox_with_its_file(mail: MailTestClient) -> None:
    mail.send(TASKS, "add Buy milk")
    exchange = mail.send(TASKS, "export")

    with mail.database.engine.connect() as connection:
        raw = connection.execute(
            text("SELECT raw FROM mail_messages ORDER BY id DESC LIMIT 1")
        ).scalar_one()

    assert exchange.reply["Message-ID"] in raw.decode()
    assert b"Content-Type: text/csv" in raw
    assert b'filename="tasks.csv"' in raw
