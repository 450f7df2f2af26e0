"""An attached CSV file read into typed rows: the `Csv` type and the plan for its columns.

A handler declares the rows it wants as a dataclass (`Csv[TaskRow]`); its fields are
the columns, read with the same types and words as a command's parameters. A row
that does not fit names its row number (the header is row 1, as a spreadsheet shows
it) and the reason, so nothing is half read.
"""

import csv
import dataclasses
import io
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from mailcmd.message import Attachment
from mailcmd.parsing.errors import CommandParseError, SignatureError
from mailcmd.parsing.suggestions import suggest
from mailcmd.parsing.value_types import ValueType, read_value, value_type_for
from mailcmd.parsing.words import split_words

Row = TypeVar("Row")

# A cell starting with one of these is a formula to a spreadsheet (OWASP's CSV
# injection advice); written out, such a cell gets a leading `'`, which reading removes.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"
# Mail that declares ASCII but carries 8-bit bytes is nearly always UTF-8, its superset.
_ASCII_LABELS = frozenset({"us-ascii", "ascii"})


@dataclass(frozen=True)
class Csv(Generic[Row]):
    """The rows of an attached CSV file, each read into `Row` (a dataclass) by its header.

    `rows: Csv[TaskRow]` as a handler's parameter takes one attached `text/csv` (or
    `.csv`) file. Its first row names the columns (in any order and case); each
    field of `TaskRow` is a column, required unless the field has a default, and an
    unknown column is refused. Cells are read like command words: `date | None`
    allows an empty cell, `list[str]` takes space-separated words, `Literal` and
    `Enum` take their choices. Empty rows are skipped; a file with no rows is refused.
    """

    filename: str | None
    rows: tuple[Row, ...]

    def __iter__(self) -> Iterator[Row]:
        """The rows in file order."""
        return iter(self.rows)

    def __len__(self) -> int:
        """How many rows the file held below its header."""
        return len(self.rows)


@dataclass(frozen=True)
class Column:
    """One field of a row type, as a column of the file."""

    name: str
    value_type: ValueType
    # `list[X]`: the cell holds words, each one an X.
    is_list: bool
    # A field without a default: the header must name it.
    required: bool
    # `X | None`: the cell may be empty (for a required column, it is None then).
    may_be_empty: bool
    field: dataclasses.Field[Any]

    def default(self) -> object:
        """The value of an absent or empty cell of an optional column."""
        if self.field.default_factory is not dataclasses.MISSING:
            return self.field.default_factory()
        return self.field.default


@dataclass(frozen=True)
class TablePlan:
    """A row type analysed once: its columns, in field order."""

    row_type: type
    columns: tuple[Column, ...]

    def describe(self) -> str:
        """The columns as help shows them: `title, due (optional: tags, priority)`."""
        required = ", ".join(column.name for column in self.columns if column.required)
        optional = ", ".join(column.name for column in self.columns if not column.required)
        if not optional:
            return required
        return f"{required} (optional: {optional})" if required else f"optional: {optional}"

    def read(self, attachment: Attachment, today: date) -> Csv[Any]:
        """Read the attached file into rows; raises `CommandParseError` naming file and row."""
        name = repr(attachment.filename) if attachment.filename else "the CSV file"
        text = _decoded(attachment, name)
        first_line = text.split("\n", 1)[0]
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=True
        )
        records = enumerate(reader, start=1)
        try:
            header = next((cells for _, cells in records if any(c.strip() for c in cells)), None)
            if header is None:
                raise CommandParseError(f"{name} is empty: its first row names the columns")
            positions = self._positions(header, name)
            rows = [
                self._row(cells, positions, f"{name}, row {number}", today)
                for number, cells in records
                if any(cell.strip() for cell in cells)
            ]
        except csv.Error:
            # A quoted cell may span lines, so only the line is known here, not the row.
            raise CommandParseError(
                f"{name}, line {reader.line_num}: not readable as CSV "
                "(an unclosed quote, a NUL byte, or a cell over 128 kB?)"
            ) from None
        if not rows:
            raise CommandParseError(f"{name} has no rows below its header")
        return Csv(filename=attachment.filename, rows=tuple(rows))

    def _positions(self, header: Sequence[str], name: str) -> dict[int, Column]:
        by_key = {column.name: column for column in self.columns}
        positions: dict[int, Column] = {}
        for index, cell in enumerate(header):
            key = _column_key(cell)
            if not key:  # spreadsheets write empty header cells past the last column
                continue
            column = by_key.get(key)
            if column is None:
                guess = suggest(key, list(by_key))
                hint = f"did you mean {guess!r}? " if guess else ""
                raise CommandParseError(
                    f"{name}: unknown column {cell.strip()[:40]!r}; {hint}"
                    f"the columns are {self.describe()}"
                )
            if column in positions.values():
                raise CommandParseError(f"{name}: the column {column.name} is named twice")
            positions[index] = column
        missing = [c.name for c in self.columns if c.required and c not in positions.values()]
        if missing:
            which = "column" if len(missing) == 1 else "columns"
            verb = "is" if len(missing) == 1 else "are"
            raise CommandParseError(
                f"{name}: the {which} {', '.join(missing)} {verb} missing; "
                f"the columns are {self.describe()}"
            )
        return positions

    def _row(
        self, cells: Sequence[str], positions: dict[int, Column], where: str, today: date
    ) -> object:
        for index, cell in enumerate(cells):
            if index not in positions and cell.strip():
                raise CommandParseError(
                    f"{where}: cell {index + 1} {cell.strip()[:40]!r} has no column"
                )
        values: dict[str, object] = {}
        for index, column in positions.items():
            # A spreadsheet may leave out a row's empty cells at its end.
            cell = _unguarded(cells[index].strip()) if index < len(cells) else ""
            values[column.name] = _cell_value(column, cell, where, today)
        for column in self.columns:
            if column.name not in values:
                values[column.name] = column.default()
        return self.row_type(**values)


def table_plan(row_type: object, problem: Callable[[str], SignatureError]) -> TablePlan:
    """Analyse `row_type`, a dataclass, into the columns of a file of such rows.

    Raises what `problem` builds from the reason when it is not a dataclass or a
    field has a type a cell cannot hold.
    """
    if not (isinstance(row_type, type) and dataclasses.is_dataclass(row_type)):
        raise problem(f"Csv[{_name(row_type)}]: its rows must be a dataclass, one field a column")
    try:
        hints = typing.get_type_hints(row_type)
    except Exception as error:  # any failure to evaluate is the author's to fix
        raise problem(
            f"Csv[{row_type.__name__}]: cannot resolve its field types: {error}"
        ) from None
    columns = []
    for field in dataclasses.fields(row_type):
        if not field.init:
            continue
        columns.append(_column(field, hints[field.name], row_type.__name__, problem))
    if not columns:
        raise problem(f"Csv[{row_type.__name__}]: the dataclass has no fields")
    return TablePlan(row_type=row_type, columns=tuple(columns))


def _column(
    field: dataclasses.Field[Any],
    annotation: object,
    owner: str,
    problem: Callable[[str], SignatureError],
) -> Column:
    may_be_empty = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        may_be_empty = len(members) < len(typing.get_args(annotation))
        annotation = members[0] if len(members) == 1 else annotation
    is_list = typing.get_origin(annotation) is list
    if is_list:
        annotation = next(iter(typing.get_args(annotation)), None)
    value_type = value_type_for(annotation)
    if value_type is None or (is_list and value_type.annotation is bool):
        raise problem(f"Csv[{owner}]: field {field.name!r}: a cell cannot hold {annotation!r}")
    has_default = (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )
    return Column(
        name=field.name,
        value_type=value_type,
        is_list=is_list,
        required=not has_default,
        may_be_empty=may_be_empty or is_list,
        field=field,
    )


def _cell_value(column: Column, cell: str, where: str, today: date) -> object:
    label = f"{where}: {column.name}"
    if not cell:
        if not column.required:
            return column.default()
        if not column.may_be_empty:
            raise CommandParseError(f"{label} is empty: expected {column.value_type.expected}")
        return [] if column.is_list else None
    if not column.is_list:
        return read_value(column.value_type, label, cell, today)
    try:
        words = split_words(cell)
    except CommandParseError as error:
        raise CommandParseError(f"{label}: {error}") from None
    return [read_value(column.value_type, label, word, today) for word in words]


def _decoded(attachment: Attachment, name: str) -> str:
    charset = attachment.charset or "utf-8"
    charset = "utf-8" if charset in _ASCII_LABELS else charset
    try:
        text = attachment.data.decode(charset)
    except UnicodeDecodeError as error:
        raise CommandParseError(
            f"{name} is not {charset} text (byte {error.start + 1} is not); save it as CSV in UTF-8"
        ) from None
    except (LookupError, ValueError, TypeError):
        # Not a codec Python knows, or not a text codec (base64, rot13, ...).
        raise CommandParseError(
            f"{name} declares the charset {charset[:40]!r}, which is unknown; "
            "save it as CSV in UTF-8"
        ) from None
    # Spreadsheets start a UTF-8 file with a byte order mark.
    return text.removeprefix("\ufeff")


def _delimiter(first_line: str) -> str:
    # Spreadsheets where the comma is the decimal point separate cells with `;`.
    for candidate in (";", "\t"):
        if candidate in first_line and "," not in first_line:
            return candidate
    return ","


def _column_key(cell: str) -> str:
    return "_".join(cell.strip().casefold().replace("-", " ").split())


def _unguarded(cell: str) -> str:
    if cell.startswith(FORMULA_GUARD) and cell[1:2] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _name(annotation: object) -> str:
    return getattr(annotation, "__qualname__", repr(annotation))
