"""Files as arguments, pure: parameters analysed, limits checked, CSV read and written."""

import csv
import enum
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import pytest

from mailcmd import Accepts, Attachment, Csv, Help, csv_attachment
from mailcmd.app.exports import cell_text
from mailcmd.parsing import CommandParseError, SignatureError, analyse
from mailcmd.parsing.files import show_size

TODAY = date(2026, 11, 28)


@dataclass(frozen=True)
class TaskRow:
    title: str
    due: date | None
    tags: list[str] = field(default_factory=list)
    priority: Literal["low", "normal", "high"] = "normal"


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class EveryType:
    text: str
    number: int | None = None
    amount: Decimal | None = None
    when: datetime | None = None
    flag: bool = False
    colour: Colour | None = None


def csv_file(
    text: str, *, name: str | None = "tasks.csv", charset: str | None = None
) -> Attachment:
    return Attachment(name, "text/csv", text.encode(charset or "utf-8"), charset=charset)


def photo(size: int = 10, name: str = "photo.png") -> Attachment:
    return Attachment(name, "image/png", b"p" * size)


def fill(function: Callable[..., object], *files: Attachment) -> object:
    signature = analyse(function)
    assert signature.files is not None
    words = ["words"] if signature.positionals else []
    arguments = signature.parse(words, today=TODAY, attachments=files)
    return arguments[signature.files.name]


def refusal(function: Callable[..., object], *files: Attachment) -> str:
    with pytest.raises(CommandParseError) as raised:
        fill(function, *files)
    return str(raised.value)


def signature_error(function: Callable[..., object]) -> str:
    with pytest.raises(SignatureError) as raised:
        analyse(function)
    return str(raised.value)


def one(file: Attachment) -> None:
    """One file, required."""


def maybe(file: Attachment | None = None) -> None:
    """One file, optional."""


def several(files: list[Attachment]) -> None:
    """One or more files."""


def any_number(files: list[Attachment] = []) -> None:  # noqa: B006
    """Any number of files, none included."""


def limited(
    title: str,
    files: Annotated[
        list[Attachment],
        Accepts(types=("image/*", ".txt"), max_bytes=100, max_total_bytes=150, max_count=2),
        Help("pictures"),
    ],
) -> None:
    """Words and limited files."""


def table(rows: Annotated[Csv[TaskRow], Accepts(max_bytes=1000)]) -> None:
    """A CSV file of tasks."""


def every_type(rows: Csv[EveryType]) -> None:
    """A CSV file with a column of each type."""


# Analysis


def test_an_attachment_parameter_takes_files_and_leaves_the_words_to_the_others() -> None:
    signature = analyse(limited)

    assert [parameter.name for parameter in signature.parameters] == ["title"]
    assert signature.files is not None
    assert signature.files.name == "files"
    assert signature.usage("send") == "send TITLE <attach FILES ...>"
    assert signature.options_help()[-1] == (
        "<attach FILES ...>",
        "Pictures. Attached files. Accepts image/* or .txt, at most 2 files, at most 100 bytes"
        " each, at most 150 bytes in all.",
    )


@pytest.mark.parametrize(
    ("function", "usage"),
    [
        (one, "send <attach FILE>"),
        (maybe, "send [<attach FILE>]"),
        (several, "send <attach FILES ...>"),
        (any_number, "send [<attach FILES ...>]"),
        (table, "send <attach ROWS>"),
    ],
)
def test_the_usage_line_shows_the_files_and_whether_they_are_required(
    function: Callable[..., object], usage: str
) -> None:
    assert analyse(function).usage("send") == usage


def test_a_csv_parameter_explains_its_columns_and_takes_csv_by_default() -> None:
    files = analyse(table).files

    assert files is not None
    assert files.accepts.types == ("text/csv", ".csv")
    assert files.explanation() == (
        "A CSV file with a header row naming the columns title, due "
        "(optional: tags, priority). Accepts text/csv or .csv, at most 1 kB."
    )


def two_files(first: Attachment, second: Attachment) -> None:
    """Two parameters cannot share the files."""


def accepts_on_words(title: Annotated[str, Accepts()]) -> None:
    """Accepts on a parameter that takes words."""


def bare_csv(rows: Csv) -> None:  # type: ignore[type-arg]
    """Csv without its row type."""


def csv_of_int(rows: Csv[int]) -> None:
    """Rows that are no dataclass."""


@dataclass
class DictRow:
    data: dict[str, str]


def csv_of_dicts(rows: Csv[DictRow]) -> None:
    """A field no cell can hold."""


def list_or_none(files: list[Attachment] | None = None) -> None:
    """A list that could be None."""


def attachment_or_text(file: Attachment | str) -> None:
    """A file or words."""


def bad_default(file: Attachment | None = photo()) -> None:  # noqa: B008
    """A default file."""


def count_on_one(file: Annotated[Attachment, Accepts(max_count=2)]) -> None:
    """A count for one file."""


def type_without_slash(file: Annotated[Attachment, Accepts(types=("csv",))]) -> None:
    """Neither a content type nor an ending."""


def types_as_a_string(file: Annotated[Attachment, Accepts(types="text/csv")]) -> None:  # type: ignore[arg-type]
    """A string where a tuple belongs."""


def zero_bytes(file: Annotated[Attachment, Accepts(max_bytes=0)]) -> None:
    """A limit nothing fits."""


def annotated_inside(file: Annotated[Attachment, Accepts(max_bytes=10)] | None = None) -> None:
    """Annotated inside the union."""


def list_of_csv(tables: list[Csv[TaskRow]]) -> None:
    """Several CSV files."""


@pytest.mark.parametrize(
    ("function", "problem"),
    [
        (two_files, "only one parameter takes the attached files, and 'first' does"),
        (accepts_on_words, "Accepts(...) limits attached files"),
        (bare_csv, "Csv needs its row type, like Csv[TaskRow]"),
        (csv_of_int, "Csv[int]: its rows must be a dataclass"),
        (csv_of_dicts, "Csv[DictRow]: field 'data': a cell cannot hold"),
        (list_or_none, "list[Attachment] cannot be None"),
        (attachment_or_text, "an attachment cannot be one of several types"),
        (bad_default, "the default of an attachment can only be None"),
        (count_on_one, "max_count is for a list[Attachment]"),
        (type_without_slash, "'csv' is neither a content type like text/csv nor an ending"),
        (types_as_a_string, "types must be a tuple of strings"),
        (zero_bytes, "must be whole numbers above 0"),
        (annotated_inside, "put Annotated outside"),
        (list_of_csv, "one parameter takes one CSV file"),
    ],
)
def test_a_misdeclared_file_parameter_fails_at_registration_naming_it(
    function: Callable[..., object], problem: str
) -> None:
    error = signature_error(function)

    assert error.startswith(f"{__name__}.{function.__name__}: parameter ")
    assert problem in error


# Filling and limits


def test_files_fill_their_parameter_as_they_came() -> None:
    first, second = photo(), Attachment("a.txt", "text/plain", b"a")

    assert fill(one, first) is first
    assert fill(maybe) is None
    assert fill(maybe, first) is first
    assert fill(several, first, second) == [first, second]
    assert fill(any_number) == []


@pytest.mark.parametrize(
    ("function", "files", "expected"),
    [
        (one, (), "FILE is missing: attach a file"),
        (several, (), "FILES is missing: attach a file"),
        (one, (photo(name="a.png"), photo(name="b.png")), "FILE takes one file, got 2: 'a.png'"),
        (limited, (photo(), photo(), photo()), "FILES takes at most 2 files, got 3"),
        (
            limited,
            (Attachment(None, "application/pdf", b"%PDF"),),
            "a file without a name is application/pdf; FILES takes image/* or .txt",
        ),
        (limited, (photo(101),), "'photo.png' is 101 bytes; FILES takes at most 100 bytes per"),
        (limited, (photo(80), photo(80)), "the files are 160 bytes in all; FILES takes at most"),
        (table, (photo(),), "'photo.png' is image/png; ROWS takes text/csv or .csv"),
        (table, (csv_file("title,due\n" + "x,\n" * 400),), "is 1.2 kB; ROWS takes at most 1 kB"),
    ],
)
def test_files_that_break_a_limit_are_refused_saying_which_and_why(
    function: Callable[..., object], files: tuple[Attachment, ...], expected: str
) -> None:
    assert expected in refusal(function, *files)


def test_a_type_matches_by_family_or_by_the_names_ending_in_any_case() -> None:
    limits = Accepts(types=("image/*", ".TXT", "text/csv"))

    assert limits.matches(Attachment("x", "image/jpeg", b""))
    assert limits.matches(Attachment("Notes.txt", "application/octet-stream", b""))
    assert limits.matches(Attachment(None, "TEXT/CSV", b""))
    assert not limits.matches(Attachment("image.pdf", "application/pdf", b""))
    assert Accepts().matches(Attachment(None, "application/x-anything", b""))


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1000, "1 kB"),
        (2_560, "2.6 kB"),
        (1_000_000, "1 MB"),
        (10_485_760, "10.5 MB"),
        (3 * 10**9, "3 GB"),
    ],
)
def test_sizes_are_shown_in_decimal_units(size: int, shown: str) -> None:
    assert show_size(size) == shown


# Reading CSV


def rows_of(text: str, **kwargs: str | None) -> list[object]:
    read = fill(every_type if text.startswith("text") else table, csv_file(text, **kwargs))
    assert isinstance(read, Csv)
    return list(read)


def test_a_csv_file_becomes_typed_rows_by_its_header() -> None:
    rows = rows_of(
        "Priority, Title ,DUE,tags\r\nhigh,Buy milk,tomorrow,home shop\r\n,Call Ann,,\r\n"
    )

    assert rows == [
        TaskRow("Buy milk", date(2026, 11, 29), ["home", "shop"], "high"),
        TaskRow("Call Ann", None, [], "normal"),
    ]


def test_every_cell_type_reads_as_a_command_word_does() -> None:
    rows = rows_of(
        'text,number,amount,when,flag,colour\na,-5,"12,50",2026-12-01 09:30,yes,RED\nb,,,,,\n'
    )

    assert rows == [
        EveryType("a", -5, Decimal("12.50"), datetime(2026, 12, 1, 9, 30), True, Colour.RED),
        EveryType("b"),
    ]


def test_a_csv_file_keeps_its_name_and_counts_its_rows() -> None:
    read = fill(table, csv_file("title,due\nOne,\nTwo,\n", name="mine.csv"))

    assert isinstance(read, Csv)
    assert (read.filename, len(read)) == ("mine.csv", 2)


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("\ufefftitle,due\nCafé,\n", None),
        ("title;due\nCafé;\n", "utf-8"),
        ("title\tdue\nCafé\t\n", "utf-8"),
        ("title,due\nCafé,\n", "iso-8859-1"),
        ("title,due\nCafé,\n", "us-ascii"),  # declared ASCII, written UTF-8
        ("\n\ntitle,due\n\nCafé,\n,\n\n", None),  # blank lines and rows skipped
        ("title,due\n'=Café,\n", None),  # a neutralised formula loses its guard
    ],
)
def test_reading_tolerates_what_spreadsheets_write(text: str, charset: str | None) -> None:
    data = text.encode("utf-8" if charset == "us-ascii" else charset or "utf-8")
    attachment = Attachment("t.csv", "text/csv", data, charset=charset)
    read = fill(table, attachment)

    assert isinstance(read, Csv)
    assert [row.title for row in read] in (["Café"], ["=Café"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title,due\nOne,someday\n", "'tasks.csv', row 2: due: expected a date like 2026-12-01"),
        ("title,due\nOne,tomorow\n", "got 'tomorow'; did you mean 'tomorrow'?"),
        ("title,due\n\nOne,,,x\n", "'tasks.csv', row 3: cell 4 'x' has no column"),
        ("title,due,,\nOne,,,x\n", "row 2: cell 4 'x' has no column"),
        ("title,due\n ,2030-01-01\n", "row 2: title is empty: expected text"),
        ('title,due,tags\nOne,,"a \'b"\n', "row 2: tags: unbalanced quote"),
        ("title\nOne\n", "the column due is missing; the columns are title, due (optional:"),
        ("priority\nhigh\n", "the columns title, due are missing"),
        ("title,due,colour\nOne,,red\n", "unknown column 'colour'; the columns are title, due"),
        ("title,due,Due\nOne,,\n", "the column due is named twice"),
        ("title,due\n\n", "has no rows below its header"),
        ("\n \n", "'tasks.csv' is empty: its first row names the columns"),
        ('title,due\n"One\0,\n', "'tasks.csv', line 2: not readable as CSV"),
    ],
)
def test_a_bad_csv_file_is_refused_naming_the_row_and_the_reason(text: str, expected: str) -> None:
    assert expected in refusal(table, csv_file(text))


def test_a_long_cell_that_does_not_fit_is_shown_cut_short() -> None:
    message = refusal(every_type, csv_file("text,number\nOne," + "9" * 100_000 + "\n"))

    assert message.endswith(f"got '{'9' * 60}...'")


def test_an_undecodable_file_is_refused_with_how_to_save_it() -> None:
    latin = Attachment("t.csv", "text/csv", "title,due\nCafé,\n".encode("cp1252"))
    unknown = Attachment("t.csv", "text/csv", b"title,due\n", charset="x-klingon")
    not_text = Attachment("t.csv", "text/csv", b"title,due\n", charset="base64")

    assert refusal(table, latin) == (
        "'t.csv' is not utf-8 text (byte 14 is not); save it as CSV in UTF-8"
    )
    assert "declares the charset 'x-klingon', which is unknown" in refusal(table, unknown)
    assert "declares the charset 'base64', which is unknown" in refusal(table, not_text)


# Writing CSV


def test_rows_are_written_as_csv_that_reads_back_the_same() -> None:
    rows = [
        TaskRow("=cmd|' /C calc'!A0", date(2031, 3, 4), ["@home", "two words"], "low"),
        TaskRow("Plain, with a comma", None),
        TaskRow("-starts with a minus\nand spans lines", None, ["+x"]),
    ]

    exported = csv_attachment("tasks.csv", TaskRow, rows)
    read = fill(table, exported)

    assert (exported.filename, exported.content_type, exported.charset) == (
        "tasks.csv",
        "text/csv",
        "utf-8",
    )
    assert isinstance(read, Csv)
    assert list(read) == rows


def test_an_exported_cell_that_starts_like_a_formula_is_neutralised() -> None:
    titles = ["=1+1", "+1", "-1+2", "@SUM(A1)", "\tTab", "\rCR", "safe = fine"]
    rows = [TaskRow(title, None) for title in titles]

    data = csv_attachment("t.csv", TaskRow, rows).data.decode()
    cells = [row[0] for row in csv.reader(io.StringIO(data, newline=""))][1:]

    assert cells == ["'=1+1", "'+1", "'-1+2", "'@SUM(A1)", "'\tTab", "'\rCR", "safe = fine"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (-5, "-5"),
        (Decimal("-1.5"), "-1.5"),
        (True, "yes"),
        (date(2026, 12, 1), "2026-12-01"),
        (datetime(2026, 12, 1, 9, 30), "2026-12-01 09:30:00"),
        (Colour.RED, "red"),
        (["a", "b c", "=d"], 'a "b c" =d'),
        (["-x"], "'-x"),
        ("@x", "'@x"),
    ],
)
def test_a_value_is_written_as_a_cell_a_reader_takes_back(value: object, cell: str) -> None:
    assert cell_text(value) == cell


def test_exporting_rows_that_are_no_dataclass_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="csv_attachment: Csv\\[dict\\]: its rows must be"):
        csv_attachment("t.csv", dict, [])
