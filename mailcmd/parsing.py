"""Command lines from mail: subject prefixes, words, typed arguments from a handler's signature.

Pure: no I/O. A handler's signature is analysed once, at registration, into a plan
(`CommandSignature`); each message only fills the plan in.
"""

import difflib
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import InvalidOperation
from typing import Any

from mailcmd.values import ValueType, describe_value_type, value_type_for


class ParseError(ValueError):
    """The sender's command cannot be understood; the message is one line for them."""


class SignatureError(TypeError):
    """A handler's signature cannot be served; the message names the function and parameter."""


@dataclass(frozen=True)
class Help:
    """Per-parameter help text: `title: Annotated[str, Help("what to do")]`."""

    text: str


_PREFIX = re.compile(
    r"""^\s*(?:
        \[[^\]]*\]                                   # [list tag]
      | (?:re|fwd?|aw|wg|sv|vs|antw|doorst|rif|r|tr|réf|ref|enc|res|odp|pd|ynt|İlt|ilt
          |回复|回覆|转发|轉寄|답장|전달|ατ|πρθ|трв|отв|fw)
        \s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]    # Re: Re[2]: and full-width colons
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)

# Typographic quotes that mail clients put in for ASCII ones.
_QUOTES = {
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',  # guillemets
    "\u00bb": '"',
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",
    "\u201a": "'",
}


def strip_subject_prefixes(subject: str) -> str:
    """Return the subject without reply and forward prefixes or leading `[list tags]`."""
    text = " ".join(subject.split())
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            return text.strip()
        text = stripped


def split_words(text: str) -> list[str]:
    """Split a command line into words; quotes (ASCII or typographic) group words.

    A double quote groups anywhere; a single quote only at the start of a word, so
    that the apostrophe in `don't` stays a letter.
    """
    for fancy, plain in _QUOTES.items():
        text = text.replace(fancy, plain)
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote: str | None = None
    for character in text:
        if quote is not None:
            if character == quote:
                quote = None
            else:
                current.append(character)
        elif character.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        elif character == '"' or (character == "'" and not in_word):
            quote, in_word = character, True
        else:
            current.append(character)
            in_word = True
    if quote is not None:
        raise ParseError(f"unbalanced {quote} quote in {text.strip()!r}")
    if in_word:
        words.append("".join(current))
    return words


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to `word`, if one is close enough to be a typo."""
    matches = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True)
class Parameter:
    """One parameter of a handler, as the parser fills it."""

    name: str
    value_type: ValueType
    is_list: bool
    optional: bool
    default: Any
    has_default: bool
    help: str

    @property
    def option(self) -> str:
        """The option as written in mail: `--due-date`."""
        return "--" + self.name.replace("_", "-")

    @property
    def is_flag(self) -> bool:
        """Whether the parameter is a `--flag` / `--no-flag`."""
        return self.value_type.python is bool and not self.is_list

    def display(self) -> str:
        """The parameter as a usage line shows it."""
        if not self.has_default:
            choices = self.value_type.choices
            metavar = self.value_type.metavar(self.name) if choices else self.name.upper()
            return f"{metavar} ..." if self.is_list else metavar
        if self.is_flag:
            return f"[{self.option}]"
        metavar = self.value_type.metavar(self.name)
        return f"[{self.option} {metavar}{' ...' if self.is_list else ''}]"


@dataclass(frozen=True)
class CommandSignature:
    """A handler's parameters, analysed once: what to inject, what to parse, and how."""

    function_name: str
    positionals: tuple[Parameter, ...]
    options: tuple[Parameter, ...]
    injected_parameters: Mapping[str, type]

    @property
    def parameter_names(self) -> frozenset[str]:
        """The names of every parameter filled from the mail."""
        return frozenset(p.name for p in (*self.positionals, *self.options))

    def usage(self, verb: str) -> str:
        """Return the usage line, e.g. `add TITLE [--due DATE] [--tag TAG ...]`."""
        parts = [verb] + [p.display() for p in (*self.positionals, *self.options)]
        return " ".join(part for part in parts if part)

    def options_help(self) -> list[tuple[str, str]]:
        """Return each parameter as shown in help, with its explanation."""
        rows = []
        for parameter in (*self.positionals, *self.options):
            explanation = parameter.help or describe_value_type(parameter.value_type)
            if parameter.has_default and not parameter.is_flag:
                default = "none" if parameter.default is None else parameter.default
                if not (parameter.is_list and default == []):
                    explanation += f" (default: {default})"
            shown = parameter.option if parameter.has_default else parameter.display()
            rows.append((shown, explanation))
        return rows

    def parse(
        self,
        words: Sequence[str],
        *,
        prefilled: Mapping[str, str] | None = None,
        today: date | None = None,
    ) -> dict[str, object]:
        """Fill the plan from `words`; raises `ParseError` with a line for the sender.

        `prefilled` gives raw values for parameters filled from elsewhere (the
        address's plus-tag); an explicit option still wins.
        """
        reference = today or date.today()
        by_option = {p.name.replace("_", "-"): p for p in self.options}
        by_option.update({p.name.replace("_", "-"): p for p in self.positionals})
        values: dict[str, object] = {}
        explicit: set[str] = set()
        loose: list[str] = []
        index = 0
        options_done = False
        while index < len(words):
            word = words[index]
            index += 1
            if options_done or not word.startswith("--") or len(word) == 2:
                if word == "--" and not options_done:
                    options_done = True
                    continue
                loose.append(word)
                continue
            name, has_value, inline = word[2:].partition("=")
            key = name.lower().replace("_", "-")
            negated = key.startswith("no-") and key[3:] in by_option
            parameter = by_option.get(key[3:] if negated else key)
            if parameter is None:
                known = [p.option for p in self.options]
                guess = suggest("--" + key, known)
                hint = f"; did you mean {guess}?" if guess else ""
                raise ParseError(f"unknown option --{name}{hint}")
            if parameter.is_flag:
                if negated:
                    values[parameter.name] = False
                elif has_value:
                    values[parameter.name] = _convert(parameter, inline, reference)
                else:
                    values[parameter.name] = True
                explicit.add(parameter.name)
                continue
            if has_value:
                raw = inline
            elif index < len(words):
                raw = words[index]
                index += 1
            else:
                raise ParseError(f"{parameter.option} needs a value")
            converted = _convert(parameter, raw, reference)
            if parameter.is_list:
                existing = values.get(parameter.name)
                values[parameter.name] = [
                    *(existing if isinstance(existing, list) else []),
                    converted,
                ]
            elif parameter.name in explicit:
                raise ParseError(f"{parameter.option} given twice")
            else:
                values[parameter.name] = converted
            explicit.add(parameter.name)
        for name, raw in (prefilled or {}).items():
            parameter = next(
                (p for p in (*self.positionals, *self.options) if p.name == name), None
            )
            if parameter is not None and name not in explicit:
                values[name] = _convert(parameter, raw, reference)
                explicit.add(name)
        self._fill_positionals(values, explicit, loose, reference)
        for parameter in (*self.positionals, *self.options):
            if parameter.name not in values:
                if not parameter.has_default:
                    raise ParseError(f"{parameter.name.upper()} is missing")
                values[parameter.name] = (
                    list(parameter.default) if parameter.is_list else parameter.default
                )
        return values

    def _fill_positionals(
        self, values: dict[str, object], explicit: set[str], loose: list[str], today: date
    ) -> None:
        open_positionals = [p for p in self.positionals if p.name not in explicit]
        remaining = list(loose)
        for position, parameter in enumerate(open_positionals):
            last = position == len(open_positionals) - 1
            if not remaining:
                break
            if parameter.is_list:
                values[parameter.name] = [_convert(parameter, w, today) for w in remaining]
                remaining = []
            elif last and parameter.value_type.python is str:
                values[parameter.name] = " ".join(remaining)
                remaining = []
            else:
                values[parameter.name] = _convert(parameter, remaining.pop(0), today)
        if remaining:
            raise ParseError(f"unexpected {' '.join(remaining)!r}")


def analyse(
    function: Callable[..., Any], *, injected: Mapping[type, str] | None = None
) -> CommandSignature:
    """Analyse `function`'s signature into a plan; raises `SignatureError` naming the problem."""
    where = f"{function.__module__}.{function.__qualname__}"
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as error:  # a bad annotation is the app author's to fix
        raise SignatureError(f"{where}: cannot read its annotations: {error}") from None
    injected_types = dict(injected or {})
    injected_parameters: dict[str, type] = {}
    positionals: list[Parameter] = []
    options: list[Parameter] = []
    for parameter in inspect.signature(function).parameters.values():
        problem = f"{where}: parameter {parameter.name!r}"
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise SignatureError(f"{problem}: *args and **kwargs cannot come from mail")
        if parameter.name not in hints:
            raise SignatureError(f"{problem}: needs a type annotation")
        annotation = hints[parameter.name]
        if isinstance(annotation, type) and annotation in injected_types:
            injected_parameters[parameter.name] = annotation
            continue
        planned = _plan_parameter(parameter, annotation, problem)
        if planned.has_default or parameter.kind == parameter.KEYWORD_ONLY:
            if not planned.has_default:
                raise SignatureError(f"{problem}: a keyword-only parameter needs a default")
            options.append(planned)
            continue
        if positionals and positionals[-1].is_list:
            raise SignatureError(f"{problem}: comes after the list {positionals[-1].name!r}")
        if planned.is_flag:
            raise SignatureError(f"{problem}: a bool must have a default (it is a --flag)")
        positionals.append(planned)
    return CommandSignature(
        function_name=where,
        positionals=tuple(positionals),
        options=tuple(options),
        injected_parameters=injected_parameters,
    )


def _plan_parameter(parameter: inspect.Parameter, annotation: Any, problem: str) -> Parameter:
    help_text = ""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        help_text = next((m.text for m in metadata if isinstance(m, Help)), "")
        annotation = base
    optional = False
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [member for member in arguments if member is not type(None)]
        if len(members) != 1 or len(arguments) != 2:
            raise SignatureError(f"{problem}: unsupported type {_name(annotation)!r}")
        optional, annotation = True, members[0]
    is_list = typing.get_origin(annotation) is list
    if is_list:
        (annotation,) = typing.get_args(annotation) or (str,)
    value_type = value_type_for(annotation)
    if value_type is None:
        raise SignatureError(f"{problem}: unsupported type {_name(annotation)!r}")
    has_default = parameter.default is not inspect.Parameter.empty
    default = parameter.default if has_default else None
    if has_default and isinstance(default, list | dict | set) and default:
        raise SignatureError(f"{problem}: a mutable default must be empty")
    if is_list and value_type.python is bool:
        raise SignatureError(f"{problem}: a list of bool cannot come from mail")
    return Parameter(
        name=parameter.name,
        value_type=value_type,
        is_list=is_list,
        optional=optional,
        default=default,
        has_default=has_default,
        help=help_text,
    )


def _convert(parameter: Parameter, raw: str, today: date) -> object:
    try:
        return parameter.value_type.convert(raw, today)
    except (ValueError, InvalidOperation, KeyError):
        expected = describe_value_type(parameter.value_type)
        raise ParseError(f"{parameter.name}: expected {expected}, got {raw!r}") from None


def _name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
