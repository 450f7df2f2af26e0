"""A handler's signature as a plan for filling its arguments from the words of a command."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from mailcmd.message import Attachment
from mailcmd.parsing.errors import CommandParseError
from mailcmd.parsing.files import FileParameter
from mailcmd.parsing.parameters import Parameter
from mailcmd.parsing.suggestions import suggest
from mailcmd.parsing.value_types import read_value

NOTHING_PREFILLED: Mapping[str, str] = MappingProxyType({})

# Mail clients "correct" a typed `--` into an em or en dash; `—due` still means `--due`.
OPTION_DASHES = ("--", "\u2014", "\u2013")
END_OF_OPTIONS = "--"


def option_name(word: str) -> str | None:
    """Return `word` without its leading dashes if it is an option (`--due=x` gives `due=x`)."""
    for dash in OPTION_DASHES:
        if word.startswith(dash) and word[len(dash) : len(dash) + 1].isalpha():
            return word[len(dash) :]
    return None


@dataclass(frozen=True)
class CommandSignature:
    """A handler's parameters, analysed once by `analyse`: what to inject, what to parse.

    Parsing only fills this plan in; nothing about the function is inspected again.
    """

    # `module.qualname`, for messages to the app author.
    function_name: str
    # In signature order; positionals always come before options.
    positionals: tuple[Parameter, ...]
    options: tuple[Parameter, ...]
    injected: tuple[tuple[str, type], ...] = ()
    # The one parameter filled from the attached files, if any.
    files: FileParameter | None = None
    _by_key: Mapping[str, Parameter] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the parameters by option name, once."""
        by_key = {parameter.key: parameter for parameter in self.parameters}
        object.__setattr__(self, "_by_key", MappingProxyType(by_key))

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """Every parameter filled from mail, in signature order."""
        return (*self.positionals, *self.options)

    @property
    def parameter_names(self) -> frozenset[str]:
        """The names of every parameter filled from mail (not the injected ones)."""
        return frozenset(parameter.name for parameter in self.parameters)

    @property
    def injected_parameters(self) -> dict[str, type]:
        """The parameters the framework injects by type: name to type, in signature order."""
        return dict(self.injected)

    def usage(self, verb: str) -> str:
        """Return the usage line: `add TITLE [--due DATE] [--tag TAG ...] [--urgent]`.

        A parameter that takes files comes last: `import <attach CSV>`.
        """
        words = [verb, *(parameter.usage() for parameter in self.parameters)]
        if self.files is not None:
            words.append(self.files.usage())
        return " ".join(words).strip()

    def options_help(self) -> list[tuple[str, str]]:
        """Return each parameter as help shows it, with its explanation, in signature order.

        `("--due DATE", "a date like 2026-12-01, ... (default: none)")`; the text is
        the parameter's `Help` marker when it has one. The files parameter comes last.
        """
        shown = [(parameter.synopsis(), parameter.explanation()) for parameter in self.parameters]
        if self.files is not None:
            shown.append((self.files.synopsis(), self.files.explanation()))
        return shown

    def parse(
        self,
        words: Sequence[str],
        *,
        prefilled: Mapping[str, str] = NOTHING_PREFILLED,
        today: date | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> dict[str, object]:
        """Fill the plan from a command's words; return the keyword arguments to call with.

        Options (`--due x`, `--due=x`, `--flag`, `--no-flag`) may come anywhere until a
        bare `--`; the other words fill the positionals in order, a list positional
        taking all that remain, and a last `str` positional taking the remaining words
        joined by single spaces. Any positional may also be given as an option.
        `prefilled` gives raw values by parameter name (the address's plus-tag): such a
        parameter leaves the positional order, and an explicit option overrides it.
        Absent options get their defaults (a new list for list defaults). Relative
        dates count from `today` (default: the clock's today). The files parameter,
        if any, is filled from `attachments`, checked against its limits.

        Raises `CommandParseError` with one line for the sender; raises TypeError if
        `prefilled` names no parameter, which is the caller's bug.
        """
        reference = today if today is not None else date.today()
        values: dict[str, object] = {}
        repeated: dict[str, list[object]] = {}
        loose: list[str] = []
        index = 0
        options_ended = False
        while index < len(words):
            word = words[index]
            index += 1
            name = None if options_ended else option_name(word)
            if name is not None:
                index = self._take_option(name, words, index, values, repeated, reference)
            elif word == END_OF_OPTIONS and not options_ended:
                options_ended = True
            else:
                loose.append(word)
        values.update(repeated)
        for parameter_name, raw in prefilled.items():
            parameter = next((p for p in self.parameters if p.name == parameter_name), None)
            if parameter is None:
                raise TypeError(
                    f"{self.function_name}: nothing to prefill named {parameter_name!r}"
                )
            if parameter_name not in values:
                value = _convert(parameter, raw, reference)
                values[parameter_name] = [value] if parameter.is_list else value
        self._fill_positionals(loose, values, reference)
        for parameter in self.options:
            if parameter.name not in values:
                if parameter.required:
                    raise CommandParseError(
                        f"{parameter.option} is missing: expected {parameter.value_type.expected}"
                    )
                values[parameter.name] = parameter.fresh_default()
        arguments = {parameter.name: values[parameter.name] for parameter in self.parameters}
        if self.files is not None:
            arguments[self.files.name] = self.files.fill(attachments, reference)
        return arguments

    def _take_option(
        self,
        name: str,
        words: Sequence[str],
        index: int,
        values: dict[str, object],
        repeated: dict[str, list[object]],
        today: date,
    ) -> int:
        """Read one option and its value into `values` (`repeated` for lists).

        Returns the index of the word after it.
        """
        spelt, has_value, inline = name.partition("=")
        key = spelt.casefold().replace("_", "-")
        parameter = self._by_key.get(key)
        negated = parameter is None and key.startswith("no-")
        if negated:
            parameter = self._by_key.get(key[3:])
            if parameter is not None and not parameter.is_flag:
                parameter = None
        if parameter is None:
            raise CommandParseError(self._unknown_option("--" + spelt))
        if parameter.name in values:
            raise CommandParseError(f"{parameter.label}: given more than once (it takes one value)")
        if parameter.is_flag:
            if negated and has_value:
                raise CommandParseError(f"{parameter.label}: --{spelt} takes no value")
            values[parameter.name] = (
                _convert(parameter, inline, today) if has_value else not negated
            )
            return index
        if has_value:
            raw = inline
        elif (
            index < len(words)
            and words[index] != END_OF_OPTIONS
            and option_name(words[index]) is None
        ):
            raw = words[index]
            index += 1
        else:
            expected = parameter.value_type.expected
            raise CommandParseError(
                f"{parameter.label}: expected {expected} after {parameter.option}"
            )
        value = _convert(parameter, raw, today)
        if parameter.is_list:
            repeated.setdefault(parameter.name, []).append(value)
        else:
            values[parameter.name] = value
        return index

    def _unknown_option(self, spelt: str) -> str:
        flags = [p for p in self.options if p.is_flag]
        known = [p.option for p in self.parameters] + ["--no-" + p.option[2:] for p in flags]
        guess = suggest(spelt, known)
        if guess:
            return f"unknown option {spelt}; did you mean {guess}?"
        if self.options:
            listed = ", ".join(p.option for p in self.options)
            return f"unknown option {spelt}; the options are {listed}"
        return f"unknown option {spelt}: this command takes no options"

    def _fill_positionals(self, loose: list[str], values: dict[str, object], today: date) -> None:
        waiting = [p for p in self.positionals if p.name not in values]
        rest = list(loose)
        for number, parameter in enumerate(waiting):
            if not rest:
                expected = parameter.value_type.expected
                raise CommandParseError(f"{parameter.label} is missing: expected {expected}")
            if parameter.is_list:
                values[parameter.name] = [_convert(parameter, word, today) for word in rest]
                rest = []
            elif number == len(waiting) - 1 and parameter.value_type.annotation is str:
                values[parameter.name] = " ".join(rest)
                rest = []
            else:
                values[parameter.name] = _convert(parameter, rest.pop(0), today)
        if rest:
            extra = " ".join(rest)
            if waiting:
                taken = " ".join(parameter.synopsis() for parameter in waiting)
                raise CommandParseError(f"too many words: {extra!r} is left over after {taken}")
            more = " more" if self.positionals else ""
            raise CommandParseError(f"too many words: {extra!r}; this command takes no{more} words")


def _convert(parameter: Parameter, raw: str, today: date) -> object:
    return read_value(parameter.value_type, parameter.label, raw, today)
