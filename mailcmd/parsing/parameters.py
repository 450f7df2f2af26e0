"""One handler parameter as the parser sees it: how it is written, shown and defaulted."""

from dataclasses import dataclass

from mailcmd.parsing.value_types import ValueType, show_value


def sentences(*parts: str) -> str:
    """Join the non-empty `parts` as sentences: each begun with a capital, ended by a stop."""
    shown = [part[:1].upper() + part[1:] for part in parts if part]
    return " ".join(part if part.endswith((".", "?", "!")) else part + "." for part in shown)


@dataclass(frozen=True)
class Help:
    """Help text for one parameter, read by `analyse` from `Annotated` metadata.

    `title: Annotated[str, Help("what the task is")]` shows that text in help.
    """

    text: str


@dataclass(frozen=True)
class Parameter:
    """One parameter filled from mail, analysed once at registration."""

    name: str
    value_type: ValueType
    # Positionals are filled from words in order; the rest are `--options`.
    positional: bool
    # `list[X]`: a repeatable option, or a positional taking the remaining words.
    is_list: bool
    # Positionals always are; an option is when it is keyword-only without a default.
    required: bool
    # The handler's default; unused for positionals, which have none.
    default: object = None
    help: str = ""

    @property
    def option(self) -> str:
        """The parameter as an option: `due_date` is `--due-date`, `from_` is `--from`."""
        return "--" + self.name.strip("_").replace("_", "-")

    @property
    def key(self) -> str:
        """The option name as looked up: without dashes, case folded."""
        return self.option[2:].casefold()

    @property
    def is_flag(self) -> bool:
        """Whether the parameter is a `--flag` / `--no-flag` (a bool option)."""
        return not self.positional and not self.is_list and self.value_type.annotation is bool

    @property
    def label(self) -> str:
        """How error messages name it: `TITLE` as usage shows it, or `due` for `--due`."""
        return self.name.strip("_").upper() if self.positional else self.option[2:]

    @property
    def metavar(self) -> str:
        """The placeholder for its value: choices `low|high`; else `TITLE` or `--due DATE`.

        A positional shows its own name; an option shows its type unless it is text.
        """
        if self.value_type.choices or (self.value_type.metavar and not self.positional):
            return self.value_type.metavar
        return self.name.strip("_").upper()

    def usage(self) -> str:
        """The parameter in a usage line: `TITLE`, `TAGS ...`, `[--due DATE]`, `[--urgent]`."""
        return self.synopsis() if self.required else f"[{self.synopsis()}]"

    def synopsis(self) -> str:
        """The parameter as written, without brackets: `--tag TAG ...`, `--no-notify`."""
        if self.is_flag:
            return "--no-" + self.option[2:] if self.default is True else self.option
        repeat = " ..." if self.is_list else ""
        if self.positional:
            return self.metavar + repeat
        return f"{self.option} {self.metavar}{repeat}"

    def explanation(self) -> str:
        """What help says about it, in sentences: its `Help` text, the values it accepts,
        its default: `The day it is due. A date: 2026-12-24, ... Default: none.`"""
        default = "" if self.required else f"Default: {show_value(self.default)}"
        if self.is_flag:
            return sentences(self.help or "a flag", default)
        # Any word is text: with a `Help` text, saying so adds nothing.
        plain_text = self.help and self.value_type.annotation is str
        accepted = "" if plain_text else self.value_type.description
        repeat = ""
        if self.is_list:
            repeat = "one or more" if self.positional else "repeatable"
            if not self.default:
                default = ""
        return sentences(self.help, accepted, repeat, default)

    def fresh_default(self) -> object:
        """The default for an absent option: a new list each time for list defaults."""
        if self.is_list and isinstance(self.default, list | tuple):
            return list(self.default)
        return self.default
