"""The scalar types a command's parameters may have: how a word becomes one, and how
usage lines, help and error messages describe it."""

import enum
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from mailcmd.parsing.dates import DATE_FORMS, DATE_WORDS, read_date, read_datetime
from mailcmd.parsing.errors import CommandParseError
from mailcmd.parsing.suggestions import suggest

TRUE_WORDS = frozenset({"yes", "true", "on", "1"})
FALSE_WORDS = frozenset({"no", "false", "off", "0"})

Reader = Callable[[str, date], object]


@dataclass(frozen=True)
class ValueType:
    """One supported scalar type, as the parser reads it and as messages describe it."""

    # The annotation it came from: `str`, `date`, an Enum class, a `Literal[...]`.
    annotation: object
    read: Reader
    # In usage lines after an option: `DATE`; "" means the parameter's own name.
    metavar: str
    # For error messages: `due: expected a date like 2026-12-01, got 'tomorow'`.
    expected: str
    # For help, where there is room to list every form.
    description: str
    # The exact words a value may be, in the author's spelling, for suggestions.
    choices: tuple[str, ...] = ()
    # Words worth suggesting on a near miss (choices, or date words like `tomorrow`).
    suggestions: tuple[str, ...] = ()

    def convert(self, raw: str, today: date) -> object:
        """Return `raw` as this type; raises ValueError or ArithmeticError if it does not fit."""
        return self.read(raw, today)


def value_type_for(annotation: object) -> ValueType | None:
    """Return how to read `annotation`'s values, or None if mail cannot give one."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_type(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return _literal_type(annotation)
    return next((kind for kind in SCALARS if kind.annotation is annotation), None)


# How much of a value that does not fit a refusal repeats (a CSV cell can be long).
_SHOWN_VALUE = 60


def read_value(value_type: ValueType, label: str, raw: str, today: date) -> object:
    """Return `raw` as `value_type`, relative dates counting from `today`.

    Raises `CommandParseError` naming `label`, what was expected and what came, with a
    did-you-mean for a near miss: `due: expected a date like 2026-12-01, got 'tomorow';
    did you mean 'tomorrow'?`. A long value is shown cut short.
    """
    try:
        return value_type.convert(raw, today)
    except (ValueError, ArithmeticError):
        guess = suggest(raw, value_type.suggestions)
        hint = f"; did you mean {guess!r}?" if guess else ""
        shown = raw if len(raw) <= _SHOWN_VALUE else raw[:_SHOWN_VALUE] + "..."
        raise CommandParseError(
            f"{label}: expected {value_type.expected}, got {shown!r}{hint}"
        ) from None


def show_value(value: object) -> str:
    """Write a default value as a person would type it: `none`, `on`, `2026-12-01`, `low`."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, enum.Enum):
        return _enum_word(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if value == "":
        return "empty"
    return str(value)


def _read_text(raw: str, today: date) -> str:
    return raw


# Whole numbers are what databases store in 64 bits: a longer one would overflow in
# the handler's query, after the parse, where it can only end in an apology.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
# The longest a number in that range is written ("-9223372036854775808"), checked
# before converting, since int() of a long string costs more than linear time.
_INT_MAX_CHARACTERS = len(str(INT_MIN))


def _read_int(raw: str, today: date) -> int:
    text = raw.strip()
    if len(text) > _INT_MAX_CHARACTERS:
        raise ValueError(raw)
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError(raw)
    return value


def _read_float(raw: str, today: date) -> float:
    value = float(_decimal_point(raw))
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(raw)
    return value


def _read_decimal(raw: str, today: date) -> Decimal:
    value = Decimal(_decimal_point(raw))
    if not value.is_finite():
        raise ValueError(raw)
    return value


def _decimal_point(raw: str) -> str:
    # Half the world writes 12,50; nobody writes thousands separators in a command,
    # so a comma is a decimal point, and a comma with a point is ambiguous.
    text = raw.strip()
    if "," in text and "." in text:
        raise ValueError(raw)
    return text.replace(",", ".")


def _read_bool(raw: str, today: date) -> bool:
    word = raw.strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(raw)


_DATE_EXAMPLE = "a date like 2026-12-01"

SCALARS = (
    ValueType(str, _read_text, "", "text", "text"),
    ValueType(int, _read_int, "NUMBER", "a whole number like 42", "a whole number"),
    ValueType(float, _read_float, "NUMBER", "a number like 2.5", "a number like 2.5"),
    ValueType(Decimal, _read_decimal, "AMOUNT", "an amount like 12.50", "an amount like 12.50"),
    ValueType(bool, _read_bool, "yes|no", "yes or no", "yes or no"),
    ValueType(
        date,
        read_date,
        "DATE",
        _DATE_EXAMPLE,
        f"a date: {DATE_FORMS}",
        suggestions=DATE_WORDS,
    ),
    ValueType(
        datetime,
        read_datetime,
        "DATETIME",
        "a date and time like 2026-12-01 09:30",
        "a date and time like 2026-12-01 09:30",
    ),
)


def _choice_type(annotation: object, read: Reader, choices: tuple[str, ...]) -> ValueType:
    expected = "one of " + ", ".join(choices)
    return ValueType(
        annotation, read, "|".join(choices), expected, expected, choices, suggestions=choices
    )


def _enum_word(member: enum.Enum) -> str:
    # A string value is what the author chose to show; otherwise the member's name.
    return member.value if isinstance(member.value, str) else member.name.lower()


def _enum_type(kind: type[enum.Enum]) -> ValueType | None:
    members = list(kind)
    if not members:
        return None
    by_value = {str(member.value).casefold(): member for member in members}
    by_name = {member.name.casefold(): member for member in members}

    def read(raw: str, today: date) -> enum.Enum:
        word = raw.strip().casefold()
        # Not `or`: an IntEnum member with the value 0 is falsy.
        member = by_value.get(word)
        if member is None:
            member = by_name.get(word)
        if member is None:
            raise ValueError(raw)
        return member

    return _choice_type(kind, read, tuple(_enum_word(member) for member in members))


def _literal_type(annotation: object) -> ValueType | None:
    values = typing.get_args(annotation)
    # bool is an int, but `Literal[True]` is a flag in disguise: refuse it.
    if not values or not all(
        isinstance(value, str | int) and not isinstance(value, bool) for value in values
    ):
        return None
    by_word = {str(value).casefold(): value for value in reversed(values)}

    def read(raw: str, today: date) -> object:
        word = raw.strip().casefold()
        if word not in by_word:
            raise ValueError(raw)
        return by_word[word]

    return _choice_type(annotation, read, tuple(str(value) for value in values))
