"""Parameters filled from a mail's attached files, and the limits they declare.

`file: Attachment`, `files: list[Attachment]`, `file: Attachment | None = None` and
`rows: Csv[Row]` take the mail's attachments instead of words. `Accepts` in
`Annotated` limits them (types, sizes, count); the limits are checked, and a CSV
file read, before the handler runs, so a file that does not fit runs nothing.
"""

import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from mailcmd.message import Attachment
from mailcmd.parsing.errors import CommandParseError, SignatureError
from mailcmd.parsing.parameters import sentences
from mailcmd.parsing.tables import Csv, TablePlan, table_plan

# What a CSV parameter takes when its `Accepts` names no types: what mail clients
# label a CSV file (some say application/vnd.ms-excel, but keep the name's `.csv`).
CSV_TYPES = ("text/csv", ".csv")


@dataclass(frozen=True)
class Accepts:
    """Limits on the files a parameter takes, read by `analyse` from `Annotated` metadata.

    `file: Annotated[Attachment, Accepts(types=("text/csv", ".csv"), max_bytes=1_000_000)]`.
    `types` are content types (`text/csv`), families (`image/*`) or file name endings
    (`.csv`); a file matching any of them is accepted, and with none, any file is.
    `max_bytes` bounds each file, `max_total_bytes` all of them together, and
    `max_count` how many a `list[Attachment]` takes. A file that breaks a limit runs
    nothing: the sender is told which file, which limit, and the command's usage.
    """

    types: tuple[str, ...] = ()
    max_bytes: int | None = None
    max_total_bytes: int | None = None
    max_count: int | None = None

    def problem(self, is_list: bool) -> str | None:
        """What is wrong with these limits, for the app author; None if nothing."""
        if isinstance(self.types, str) or not all(isinstance(t, str) for t in self.types):
            return 'types must be a tuple of strings, like ("text/csv", ".csv")'
        for kind in self.types:
            if not _is_type_pattern(kind):
                return f"{kind!r} is neither a content type like text/csv nor an ending like .csv"
        limits = (self.max_bytes, self.max_total_bytes, self.max_count)
        if any(n is not None and not _is_positive_int(n) for n in limits):
            return "max_bytes, max_total_bytes and max_count must be whole numbers above 0"
        if self.max_count is not None and not is_list:
            return "max_count is for a list[Attachment]; this parameter takes one file"
        return None

    def matches(self, file: Attachment) -> bool:
        """Whether `file` is of one of the accepted types (any file, when none are named)."""
        if not self.types:
            return True
        kind = file.content_type.lower()
        name = (file.filename or "").lower()
        for pattern in self.types:
            wanted = pattern.lower()
            if wanted.startswith("."):
                if name.endswith(wanted):
                    return True
            elif wanted == kind or (wanted.endswith("/*") and kind.startswith(wanted[:-1])):
                return True
        return False

    def describe(self, is_list: bool) -> str:
        """The limits in words, for help: `text/csv or .csv, at most 1 MB`."""
        parts = [" or ".join(self.types)] if self.types else []
        if self.max_count is not None:
            parts.append(f"at most {_count(self.max_count)}")
        if self.max_bytes is not None:
            each = " each" if is_list else ""
            parts.append(f"at most {show_size(self.max_bytes)}{each}")
        if self.max_total_bytes is not None:
            parts.append(f"at most {show_size(self.max_total_bytes)} in all")
        return ", ".join(parts)


@dataclass(frozen=True)
class FileParameter:
    """A parameter filled from the attached files, analysed once at registration."""

    name: str
    # `list[Attachment]`: every file; else one.
    is_list: bool
    # No default: at least one file must come.
    required: bool
    accepts: Accepts
    # For `Csv[Row]`: how its rows are read; None for files handed over as they came.
    table: TablePlan | None = None
    help: str = ""

    @property
    def label(self) -> str:
        """How messages name it: `CSV` for a parameter `csv`."""
        return self.name.strip("_").upper()

    def usage(self) -> str:
        """The parameter in a usage line: `<attach CSV>`, `[<attach FILES ...>]`."""
        return self.synopsis() if self.required else f"[{self.synopsis()}]"

    def synopsis(self) -> str:
        """The parameter as help lists it: `<attach FILES ...>`."""
        return f"<attach {self.label}{' ...' if self.is_list else ''}>"

    def explanation(self) -> str:
        """What help says about it: what to attach, its columns, its limits."""
        if self.table is not None:
            text = f"a CSV file with a header row naming the columns {self.table.describe()}"
        elif self.is_list:
            text = "attached files" + ("" if self.required else ", any number")
        else:
            text = "an attached file"
        limits = self.accepts.describe(self.is_list)
        return sentences(self.help, text, f"accepts {limits}" if limits else "")

    def fill(self, files: Sequence[Attachment], today: date) -> object:
        """The argument from the mail's attachments, checked against the limits.

        Raises `CommandParseError` saying which file broke which limit, or which row of a
        CSV file does not fit.
        """
        if not files:
            if self.required:
                raise CommandParseError(f"{self.label} is missing: attach {self._wanted()}")
            return [] if self.is_list else None
        if not self.is_list and len(files) > 1:
            listed = ", ".join(_shown(file) for file in files[:5])
            raise CommandParseError(f"{self.label} takes one file, got {len(files)}: {listed}")
        limits = self.accepts
        if limits.max_count is not None and len(files) > limits.max_count:
            raise CommandParseError(
                f"{self.label} takes at most {_count(limits.max_count)}, got {len(files)}"
            )
        for file in files:
            if not limits.matches(file):
                raise CommandParseError(
                    f"{_shown(file)} is {file.content_type}; "
                    f"{self.label} takes {' or '.join(limits.types)}"
                )
            if limits.max_bytes is not None and len(file.data) > limits.max_bytes:
                raise CommandParseError(
                    f"{_shown(file)} is {show_size(len(file.data))}; "
                    f"{self.label} takes at most {show_size(limits.max_bytes)}"
                    + (" per file" if self.is_list else "")
                )
        total = sum(len(file.data) for file in files)
        if limits.max_total_bytes is not None and total > limits.max_total_bytes:
            raise CommandParseError(
                f"the files are {show_size(total)} in all; "
                f"{self.label} takes at most {show_size(limits.max_total_bytes)}"
            )
        if self.table is not None:
            return self.table.read(files[0], today)
        return list(files) if self.is_list else files[0]

    def _wanted(self) -> str:
        if self.table is not None:
            return "a CSV file"
        if self.accepts.types:
            return "a file of type " + " or ".join(self.accepts.types)
        return "a file"


def file_parameter(
    name: str,
    annotation: object,
    *,
    has_default: bool,
    default: object,
    accepts: Accepts | None,
    help_text: str,
    problem: Callable[[str], SignatureError],
) -> FileParameter | None:
    """The plan for a parameter that takes files, or None if its type takes words.

    `annotation` is without its `Annotated` wrapper, whose `Accepts` and `Help` are
    given apart. Raises what `problem` builds for a type or default files cannot fill.
    """
    base = annotation
    optional = False
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(base) if m is not type(None)]
        wrapped = [typing.get_args(m)[0] for m in members if typing.get_origin(m) is Annotated]
        if any(_takes_files(inner) for inner in wrapped):
            raise problem("put Annotated outside: Annotated[Attachment | None, Accepts(...)]")
        if not any(_takes_files(_item(member)) for member in members):
            return None
        if len(members) != 1:
            raise problem("an attachment cannot be one of several types; use X | None")
        base, optional = members[0], True
    is_list = typing.get_origin(base) is list
    if is_list:
        base = _item(base)
        if not _takes_files(base):
            return None
        if optional:
            raise problem("list[Attachment] cannot be None: with no file it is empty")
    if not _takes_files(base):
        return None
    table = None
    if base is Csv:
        raise problem("Csv needs its row type, like Csv[TaskRow] (a dataclass)")
    if typing.get_origin(base) is Csv:
        if is_list:
            raise problem("one parameter takes one CSV file: use Csv[Row], not a list")
        table = table_plan(next(iter(typing.get_args(base)), None), problem)
    _check_default(has_default, default, is_list, problem)
    limits = accepts or Accepts()
    if table is not None and not limits.types:
        limits = Accepts(CSV_TYPES, limits.max_bytes, limits.max_total_bytes, limits.max_count)
    wrong = limits.problem(is_list)
    if wrong is not None:
        raise problem(wrong)
    return FileParameter(
        name=name,
        is_list=is_list,
        required=not has_default,
        accepts=limits,
        table=table,
        help=help_text,
    )


def show_size(size: int) -> str:
    """A size as people read it: `512 bytes`, `2.5 kB`, `1 MB` (decimal units)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{round(size / scale, 1):g} {unit}"
    return f"{size} byte" + ("" if size == 1 else "s")


def _item(annotation: object) -> object:
    """What a `list[X]` holds; any other annotation itself."""
    if typing.get_origin(annotation) is list:
        return next(iter(typing.get_args(annotation)), None)
    return annotation


def _takes_files(annotation: object) -> bool:
    return annotation is Attachment or annotation is Csv or typing.get_origin(annotation) is Csv


def _check_default(
    has_default: bool, default: object, is_list: bool, problem: Callable[[str], SignatureError]
) -> None:
    if not has_default:
        return
    if is_list and default not in ([], ()):
        raise problem(f"the default of list[Attachment] can only be [], got {default!r}")
    if not is_list and default is not None:
        raise problem(f"the default of an attachment can only be None, got {default!r}")


def _is_type_pattern(kind: str) -> bool:
    if kind.startswith("."):
        return len(kind) > 1 and "/" not in kind
    major, slash, minor = kind.partition("/")
    return bool(slash and major and minor and major != "*" and " " not in kind)


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _count(count: int) -> str:
    return f"{count} file" + ("" if count == 1 else "s")


def _shown(file: Attachment) -> str:
    return repr(file.filename) if file.filename else "a file without a name"
