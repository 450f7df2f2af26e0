"""The types a command's arguments may have, and how words from mail become them.

Pure: every conversion takes `today` from the caller, so relative dates are testable.
"""

import enum
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE = re.compile(r"^([+-])(\d{1,4})([dw])$")
_TRUE = frozenset({"yes", "true", "on", "1", "y"})
_FALSE = frozenset({"no", "false", "off", "0", "n"})


@dataclass(frozen=True)
class ValueType:
    """One supported type: its name in usage lines, and its conversion from a word."""

    python: Any
    name: str
    converter: Callable[[str, date], Any]
    choices: tuple[str, ...] = ()

    def convert(self, raw: str, today: date) -> Any:
        """Convert one word; raises ValueError (or KeyError) if it does not fit."""
        return self.converter(raw, today)

    def metavar(self, parameter: str) -> str:
        """How a value is shown in usage: `TITLE`, `DATE`, or choices `low|high`."""
        if self.choices:
            return "|".join(self.choices)
        if self.python is str:
            return parameter.upper()
        return self.name.upper()


def parse_date(raw: str, today: date) -> date:
    """`2026-12-01`, `today`, `tomorrow`, `yesterday`, a weekday, `+3d`, `-1d`, `+2w`.

    A weekday means the next one after today (`friday` on a Friday is a week later).
    """
    word = raw.strip().lower()
    named = {"today": 0, "tomorrow": 1, "yesterday": -1}
    if word in named:
        return today + timedelta(days=named[word])
    target = next((i for i, day in enumerate(_WEEKDAYS) if word in (day, day[:3])), None)
    if target is not None:
        ahead = (target - today.weekday() - 1) % 7 + 1
        return today + timedelta(days=ahead)
    relative = _RELATIVE.match(word)
    if relative:
        sign, count, unit = relative.groups()
        days = int(count) * (7 if unit == "w" else 1)
        return today + timedelta(days=days if sign == "+" else -days)
    return date.fromisoformat(word)


def parse_datetime(raw: str, today: date) -> datetime:
    """ISO 8601 (`2026-12-01T09:30`, with or without a zone) or `2026-12-01 09:30`."""
    return datetime.fromisoformat(raw.strip().replace(" ", "T", 1))


def parse_bool(raw: str, today: date) -> bool:
    """yes/no, true/false, on/off, 1/0."""
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("")


def parse_decimal(raw: str, today: date) -> Decimal:
    """`12.50`, or `12,50` as many countries write it."""
    value = Decimal(raw.strip().replace(",", "."))
    if not value.is_finite():
        raise ValueError("")
    return value


def parse_float(raw: str, today: date) -> float:
    """A number; `2,5` is read as 2.5."""
    value = float(raw.strip().replace(",", "."))
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("")
    return value


VALUE_TYPES: dict[Any, ValueType] = {
    str: ValueType(str, "text", lambda raw, today: raw),
    int: ValueType(int, "number", lambda raw, today: int(raw.strip().lstrip("#"))),
    float: ValueType(float, "number", parse_float),
    bool: ValueType(bool, "yes|no", parse_bool),
    Decimal: ValueType(Decimal, "amount", parse_decimal),
    date: ValueType(date, "date", parse_date),
    datetime: ValueType(datetime, "datetime", parse_datetime),
}

_DESCRIPTIONS = {
    "text": "text",
    "number": "a number",
    "yes|no": "yes or no",
    "amount": "an amount like 12.50",
    "date": "a date like 2026-12-01, tomorrow, friday or +3d",
    "datetime": "a date and time like 2026-12-01 09:30",
}


def value_type_for(annotation: Any) -> ValueType | None:
    """Return how to read values of `annotation`, or None if it is not supported."""
    if annotation in VALUE_TYPES:
        return VALUE_TYPES[annotation]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_type(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return _literal_type(typing.get_args(annotation))
    return None


def describe_value_type(value_type: ValueType) -> str:
    """Say what a value should look like, for error messages and help."""
    if value_type.choices:
        return "one of " + ", ".join(value_type.choices)
    return _DESCRIPTIONS.get(value_type.name, value_type.name)


def _enum_type(kind: type[enum.Enum]) -> ValueType:
    members = list(kind)
    choices = tuple(str(member.value).lower() for member in members)

    def convert(raw: str, today: date) -> enum.Enum:
        word = raw.strip().lower()
        for member in members:
            if word in (str(member.value).lower(), member.name.lower()):
                return member
        raise ValueError("")

    return ValueType(kind, kind.__name__, convert, choices)


def _literal_type(values: tuple[Any, ...]) -> ValueType | None:
    if not values or not all(isinstance(value, str | int) for value in values):
        return None

    def convert(raw: str, today: date) -> Any:
        word = raw.strip().lower()
        for value in values:
            if word == str(value).lower():
                return value
        raise ValueError("")

    return ValueType(typing.Literal, "choice", convert, tuple(str(v) for v in values))
