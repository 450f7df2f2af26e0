"""From a handler's signature to the plan that fills its arguments: done once, at registration."""

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from mailcmd.parsing.errors import SignatureError
from mailcmd.parsing.files import Accepts, FileParameter, file_parameter
from mailcmd.parsing.parameters import Help, Parameter
from mailcmd.parsing.signatures import CommandSignature
from mailcmd.parsing.value_types import value_type_for

NO_INJECTIONS: Mapping[type, str] = MappingProxyType({})


def analyse(
    function: Callable[..., object], *, injected: Mapping[type, str] = NO_INJECTIONS
) -> CommandSignature:
    """Analyse a plain or async function into the plan for calling it from mail.

    A parameter annotated with one of the `injected` types (exactly that type, maybe
    inside `Annotated`) is left to the caller to inject; the mapping's values name
    those types in messages (`{Context: "the context"}`). Every other parameter is a
    positional (no default) or an option (a default, or keyword-only). Supported:
    str, int, float, bool, Decimal, date, datetime, Enum subclasses, `Literal` of str
    or int, `list[X]` of those, `X | None`, and `Annotated[X, Help("...")]`. One
    parameter may take the attached files instead (see `files`): `Attachment`,
    `list[Attachment]`, `Attachment | None` or `Csv[Row]`, limited by `Accepts`.

    Raises `SignatureError` naming the function, the parameter and the problem.
    """
    where = qualified_name(function)
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as error:
        raise SignatureError(f"{where}: cannot read its signature: {error}") from None
    namespace = getattr(inspect.unwrap(function), "__globals__", {})
    injections: list[tuple[str, type]] = []
    parameters: list[Parameter] = []
    files: FileParameter | None = None
    for parameter in signature.parameters.values():
        problem = _Problem(where, parameter.name)
        annotation = _resolve(parameter, namespace, problem)
        base, help_text = _without_metadata(annotation)
        if isinstance(base, type) and base in injected:
            injections.append((parameter.name, base))
            continue
        accepts = _accepts(annotation)
        planned = file_parameter(
            parameter.name,
            base,
            has_default=parameter.default is not parameter.empty,
            default=parameter.default,
            accepts=accepts,
            help_text=help_text,
            problem=problem,
        )
        if planned is None:
            if accepts is not None:
                raise problem(
                    "Accepts(...) limits attached files: Attachment, list[Attachment] or Csv[...]"
                )
            parameters.append(_plan(parameter, annotation, injected, problem))
        elif files is not None:
            raise problem(f"only one parameter takes the attached files, and {files.name!r} does")
        else:
            files = planned
    _check_order_and_clashes(where, parameters)
    return CommandSignature(
        function_name=where,
        positionals=tuple(p for p in parameters if p.positional),
        options=tuple(p for p in parameters if not p.positional),
        injected=tuple(injections),
        files=files,
    )


def qualified_name(function: Callable[..., object]) -> str:
    """Return `module.qualname`, as messages to the app author name a function."""
    module = getattr(function, "__module__", None) or "?"
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"


@dataclass(frozen=True)
class _Problem:
    """Builds the `SignatureError` for one parameter."""

    where: str
    name: str

    def __call__(self, problem: str) -> SignatureError:
        return SignatureError(f"{self.where}: parameter {self.name!r}: {problem}")


def _resolve(parameter: inspect.Parameter, namespace: dict[str, Any], problem: _Problem) -> Any:
    if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
        raise problem("*args and **kwargs cannot come from mail; name each parameter")
    if parameter.kind is parameter.POSITIONAL_ONLY:
        raise problem("positional-only parameters cannot be passed by name; remove the '/'")
    annotation = parameter.annotation
    if annotation is parameter.empty:
        raise problem("needs a type annotation")
    if not isinstance(annotation, str):
        return annotation
    # A string annotation (`from __future__ import annotations`) is resolved alone,
    # so one parameter's unresolvable name is reported as that parameter's problem.
    holder = types.SimpleNamespace(__annotations__={parameter.name: annotation})
    try:
        return typing.get_type_hints(holder, globalns=namespace, include_extras=True)[
            parameter.name
        ]
    except Exception as error:  # any failure to evaluate is the author's to fix
        raise problem(f"cannot resolve the annotation {annotation!r}: {error}") from None


def _without_metadata(annotation: Any) -> tuple[Any, str]:
    """Return the annotation without `Annotated[...]`, and the text of its `Help` marker."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return annotation, ""
    base, *metadata = typing.get_args(annotation)
    return base, next((marker.text for marker in metadata if isinstance(marker, Help)), "")


def _accepts(annotation: Any) -> Accepts | None:
    """The `Accepts` marker in the annotation's `Annotated` metadata, if any."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    return next((m for m in typing.get_args(annotation)[1:] if isinstance(m, Accepts)), None)


def _plan(
    parameter: inspect.Parameter,
    annotation: Any,
    injected: Mapping[type, str],
    problem: _Problem,
) -> Parameter:
    annotation, help_text = _without_metadata(annotation)
    shown = _type_name(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        for member in members:
            if isinstance(member, type) and member in injected:
                raise problem(
                    f"{injected[member]} is injected: annotate it as plain {member.__name__!r}"
                )
        if len(members) != 1:
            raise problem(f"unsupported type {shown!r}")
        annotation, inner_help = _without_metadata(members[0])
        help_text = help_text or inner_help
    is_list = annotation is list or typing.get_origin(annotation) is list
    if is_list:
        items = typing.get_args(annotation)
        if not items:
            raise problem(f"unsupported type {shown!r}: say what it holds, like list[str]")
        annotation, inner_help = _without_metadata(items[0])
        help_text = help_text or inner_help
    value_type = value_type_for(annotation)
    if value_type is None:
        raise problem(f"unsupported type {shown!r}")
    has_default = parameter.default is not parameter.empty
    default = parameter.default if has_default else None
    _check_default(default, problem)
    positional = not has_default and parameter.kind is not parameter.KEYWORD_ONLY
    if value_type.annotation is bool:
        if is_list:
            raise problem("list[bool] is not supported; use a --flag")
        if positional:
            raise problem("a bool must have a default: it is a --flag, not a positional")
        if not has_default:
            raise problem("a bool must have a default: it is a --flag")
    return Parameter(
        name=parameter.name,
        value_type=value_type,
        positional=positional,
        is_list=is_list,
        required=not has_default,
        default=default,
        help=help_text,
    )


def _check_default(default: object, problem: _Problem) -> None:
    # One default object is shared by every call; the parser gives each call a new
    # list for an empty-list default, but anything else mutable would leak between calls.
    mutable = isinstance(default, list | dict | set | bytearray)
    if mutable and default != []:
        raise problem(f"a mutable default must be empty (only [] is allowed), got {default!r}")


def _check_order_and_clashes(where: str, parameters: list[Parameter]) -> None:
    seen: dict[str, Parameter] = {}
    list_positional: Parameter | None = None
    for parameter in parameters:
        problem = _Problem(where, parameter.name)
        if parameter.positional and list_positional is not None:
            raise problem(
                f"comes after the list positional {list_positional.name!r}, "
                "which takes all the remaining words"
            )
        if parameter.positional and parameter.is_list:
            list_positional = parameter
        spellings = [parameter.key] + (["no-" + parameter.key] if parameter.is_flag else [])
        for spelling in spellings:
            other = seen.get(spelling)
            if other is not None:
                raise problem(f"its option --{spelling} clashes with parameter {other.name!r}")
            seen[spelling] = parameter


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")
