"""Dates and times as people write them in a command: ISO, or relative to a given today.

Everything relative is computed from the `today` the caller passes, so results do
not depend on the clock (and tests are deterministic).
"""

import re
from datetime import date, datetime, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NAMED_DAYS = {"yesterday": -1, "today": 0, "tomorrow": 1}
# The words a date may be, for did-you-mean suggestions on a misspelt one.
DATE_WORDS = (*NAMED_DAYS, *WEEKDAYS)

# An offset's unit letter and the days it counts.
OFFSET_UNITS = {"d": 1, "w": 7}
_OFFSET = re.compile(r"([+-])(\d{1,5})([" + "".join(OFFSET_UNITS) + "])")

# Every form `read_date` accepts, as help lists it, from the tables above (the
# examples are tested to parse), so help never lists a form the parser refuses.
DATE_FORMS = (
    "2026-12-24, "
    + ", ".join(NAMED_DAYS)
    + f", a weekday ({WEEKDAYS[4]} or {WEEKDAYS[4][:3]}: the next one, never today)"
    + ", or days or weeks from today (+3d, +2w, -1d)"
)


def read_date(raw: str, today: date) -> date:
    """Read a date; raises ValueError (or OverflowError) if `raw` is none of the forms.

    Accepted, case-insensitively:

    - ISO `2026-12-01`;
    - `today`, `tomorrow`, `yesterday`;
    - a weekday, in full or its first three letters (`friday`, `fri`): the first such
      day strictly after `today`, so on a Friday `friday` is a week later, never today;
    - an offset in days or weeks: `+3d`, `-1d`, `+2w`.
    """
    word = raw.strip().casefold()
    if word in NAMED_DAYS:
        return today + timedelta(days=NAMED_DAYS[word])
    for number, weekday in enumerate(WEEKDAYS):
        if word in (weekday, weekday[:3]):
            return today + timedelta(days=(number - today.weekday() - 1) % 7 + 1)
    offset = _OFFSET.fullmatch(word)
    if offset:
        sign, count, unit = offset.groups()
        days = int(count) * OFFSET_UNITS[unit]
        return today + timedelta(days=days if sign == "+" else -days)
    return date.fromisoformat(raw.strip())


def read_datetime(raw: str, today: date) -> datetime:
    """Read ISO 8601 date and time: `2026-12-01T09:30`, `2026-12-01 09:30`, `...+01:00`, `...Z`.

    Without a zone the result is naive (the caller's time zone); with one it is aware.
    `today` is unused: it keeps the signature of every reader the same.
    """
    return datetime.fromisoformat(raw.strip())
