"""Rows written as a CSV file to send with a reply, safe to open in a spreadsheet."""

import csv
import enum
import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from mailcmd.message import Attachment
from mailcmd.parsing.errors import SignatureError
from mailcmd.parsing.tables import FORMULA_GUARD, FORMULA_STARTS, table_plan
from mailcmd.parsing.value_types import show_value
from mailcmd.parsing.words import DOUBLE_QUOTES, SINGLE_QUOTES

Row = TypeVar("Row")


def csv_attachment(filename: str, row_type: type[Row], rows: Iterable[Row]) -> Attachment:
    """Return `rows` (instances of the dataclass `row_type`) as a CSV file to attach.

    The header row names `row_type`'s fields, and each cell is written the way a
    `Csv[row_type]` parameter reads it back: dates as `2026-12-01`, lists as words
    separated by spaces, None as an empty cell. A cell a spreadsheet would take for a
    formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
    leading `'` (OWASP's advice against CSV injection), which reading removes.
    UTF-8, with CR LF line ends, as RFC 4180 says. Raises TypeError if `row_type`
    is not a dataclass of cell types.
    """
    plan = table_plan(row_type, lambda reason: SignatureError(f"csv_attachment: {reason}"))
    names = [column.name for column in plan.columns]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([cell_text(getattr(row, name)) for name in names])
    data = buffer.getvalue().encode("utf-8")
    return Attachment(filename=filename, content_type="text/csv", data=data, charset="utf-8")


def cell_text(value: object) -> str:
    """One value as a CSV cell, neutralised if a spreadsheet would run it as a formula.

    Numbers are written as they are (a negative number is no formula); any other
    cell that starts like a formula is prefixed with `'`.
    """
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool | enum.Enum):
        return str(value)
    if isinstance(value, list | tuple):
        text = " ".join(_word(_plain(item)) for item in value)
    else:
        text = _plain(value)
    return FORMULA_GUARD + text if text.startswith(FORMULA_STARTS) else text


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | enum.Enum):
        return show_value(value)
    return str(value)


def _word(word: str) -> str:
    # A list cell is read as words, so a word with a space in it is quoted.
    if not word or any(ch.isspace() or ch in DOUBLE_QUOTES or ch in SINGLE_QUOTES for ch in word):
        return '"' + "".join(ch for ch in word if ch not in DOUBLE_QUOTES) + '"'
    return word
