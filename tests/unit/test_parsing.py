"""Command parsing: subjects, words, signatures analysed once, and arguments filled in."""

import enum
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal, Optional

import pytest

from mailcmd.parsing import (
    CommandParseError,
    CommandSignature,
    Help,
    SignatureError,
    analyse,
    split_words,
    strip_subject_prefixes,
    suggest,
)
from mailcmd.parsing.dates import DATE_FORMS, DATE_WORDS, WEEKDAYS, read_date

TODAY = date(2026, 11, 28)  # a Saturday


class Context:
    """Stands in for the framework's context, which is injected by type."""


INJECTED: dict[type, str] = {Context: "the context"}


class Colour(enum.Enum):
    RED = "red"
    DARK_BLUE = "navy"


class Level(enum.IntEnum):
    OFF = 0
    LOW = 1


def add(
    ctx: Context,
    title: str,
    due: date | None = None,
    tag: list[str] = [],  # noqa: B006 - the parser gives each call a new list
    priority: Literal["low", "normal", "high"] = "normal",
    urgent: bool = False,
) -> None:
    """The tasks example from the architecture."""


def show(ctx: Context, task_id: int, note: str) -> None:
    """A positional filled from the plus-tag, then text."""


def tell(ctx: Context, to: str, words: str) -> None:
    """Two str positionals: the first takes one word."""


def tag_task(ctx: Context, task_id: int, labels: list[str]) -> None:
    """A list positional takes the remaining words."""


def move(ctx: Context, task_id: int, *, to: date, notify: bool = True) -> None:
    """A keyword-only option without a default is required."""


def when_handler(ctx: Context, when: set[int]) -> None:
    """An unsupported type."""


def signature_of(function: Callable[..., object]) -> CommandSignature:
    return analyse(function, injected=INJECTED)


def arguments_for(
    function: Callable[..., object], line: str, prefilled: Mapping[str, str] | None = None
) -> dict[str, object]:
    return signature_of(function).parse(split_words(line), prefilled=prefilled or {}, today=TODAY)


def parse_error(
    function: Callable[..., object], line: str, prefilled: Mapping[str, str] | None = None
) -> str:
    with pytest.raises(CommandParseError) as raised:
        arguments_for(function, line, prefilled)
    return str(raised.value)


def signature_error(function: Callable[..., object]) -> str:
    with pytest.raises(SignatureError) as raised:
        signature_of(function)
    return str(raised.value)


def value_of(annotation: object, word: str) -> object:
    def handler(value: annotation) -> None:  # type: ignore[valid-type]
        """One positional of the given type."""

    return signature_of(handler).parse([word], today=TODAY)["value"]


def value_error(annotation: object, word: str) -> str:
    with pytest.raises(CommandParseError) as raised:
        value_of(annotation, word)
    return str(raised.value)


# Subjects


@pytest.mark.parametrize(
    "prefix",
    [
        "Re:",
        "RE:",
        "Fwd:",
        "Fw:",
        "FW:",
        "AW:",
        "WG:",
        "SV:",
        "VS:",
        "Antw:",
        "Doorst:",
        "RIF:",
        "R:",
        "I:",
        "TR:",
        "Réf:",
        "Enc:",
        "RES:",
        "RV:",
        "ODP:",
        "PD:",
        "YNT:",
        "İLT:",
        "Vá:",
        "回复:",
        "回覆:",
        "转发:",
        "답장:",
        "전달:",
        "Ατ:",
        "ΑΠ:",
        "ΠΡΘ:",
        "Отв:",
        "返信:",
    ],
)
def test_reply_and_forward_prefixes_in_many_languages_are_removed(prefix: str) -> None:
    assert strip_subject_prefixes(f"{prefix} add milk") == "add milk"


@pytest.mark.parametrize(
    "subject",
    ["Re[2]: add milk", "Re(3): add milk", "RE: RE: add milk", "Re:Fwd:AW: add milk"],
)
def test_counted_and_repeated_prefixes_are_removed(subject: str) -> None:
    assert strip_subject_prefixes(subject) == "add milk"


def test_prefixes_are_removed_whatever_their_case() -> None:
    assert strip_subject_prefixes("rE: fWD: add milk") == "add milk"


def test_a_full_width_colon_ends_a_prefix() -> None:
    assert strip_subject_prefixes("回复\uff1aRe\uff1aadd milk") == "add milk"


def test_a_space_before_the_colon_as_french_writes_it_is_allowed() -> None:
    assert strip_subject_prefixes("RE : TR : add milk") == "add milk"


def test_list_tags_between_prefixes_are_removed() -> None:
    assert strip_subject_prefixes("[tasks] Re: [ext] add milk") == "add milk"


def test_a_prefix_without_a_colon_is_a_real_word_and_stays() -> None:
    assert strip_subject_prefixes("re add milk") == "re add milk"


def test_a_word_that_only_starts_like_a_prefix_stays() -> None:
    assert strip_subject_prefixes("Remind: me") == "Remind: me"


def test_prefixes_are_only_removed_at_the_start() -> None:
    assert strip_subject_prefixes("add Re: milk [x]") == "add Re: milk [x]"


def test_subject_whitespace_and_folds_collapse_to_single_spaces() -> None:
    assert strip_subject_prefixes("  Re:\r\n  add \t Buy\u00a0 milk  ") == "add Buy milk"


def test_a_subject_of_only_prefixes_becomes_empty() -> None:
    assert strip_subject_prefixes("[tasks] Re: ") == ""


# Words


def test_whitespace_of_any_kind_separates_words() -> None:
    assert split_words(" add\tBuy\u00a0milk \n") == ["add", "Buy", "milk"]


def test_no_words_in_blank_text() -> None:
    assert split_words("   ") == []


def test_double_quotes_group_words() -> None:
    assert split_words('add "Buy milk" now') == ["add", "Buy milk", "now"]


def test_single_quotes_group_words() -> None:
    assert split_words("add 'Buy milk' now") == ["add", "Buy milk", "now"]


@pytest.mark.parametrize(
    "quoted",
    [
        "\u201cBuy milk\u201d",
        "\u201eBuy milk\u201c",
        "\u00abBuy milk\u00bb",
        "\u2018Buy milk\u2019",
    ],
)
def test_typographic_quotes_group_words_like_ascii_ones(quoted: str) -> None:
    assert split_words(f"add {quoted} now") == ["add", "Buy milk", "now"]


def test_an_apostrophe_inside_a_word_is_a_letter() -> None:
    assert split_words("don't call O'Brien's don\u2019t") == [
        "don't",
        "call",
        "O'Brien's",
        "don\u2019t",
    ]


def test_an_apostrophe_inside_a_single_quoted_group_is_a_letter() -> None:
    assert split_words("add 'don't forget'") == ["add", "don't forget"]


def test_a_double_quote_inside_a_word_groups_an_option_value() -> None:
    assert split_words('--title="Buy milk"') == ["--title=Buy milk"]


def test_a_single_quote_after_equals_groups_an_option_value() -> None:
    assert split_words("--title='Buy milk'") == ["--title=Buy milk"]


def test_empty_quotes_make_an_empty_word() -> None:
    assert split_words('add "" x') == ["add", "", "x"]


def test_a_backslash_is_an_ordinary_character() -> None:
    assert split_words(r'"C:\new folder" a\ b') == [r"C:\new folder", "a\\", "b"]


def test_an_unclosed_double_quote_is_a_parse_error() -> None:
    with pytest.raises(CommandParseError) as raised:
        split_words('add "Buy milk')

    assert str(raised.value) == "unbalanced quote: the \" before 'Buy milk' is never closed"


def test_an_unclosed_quote_at_the_end_is_a_parse_error() -> None:
    with pytest.raises(CommandParseError) as raised:
        split_words("add \u201c")

    assert str(raised.value) == "unbalanced quote: the \u201c at the end is never closed"


def test_an_unclosed_single_quote_is_a_parse_error() -> None:
    with pytest.raises(CommandParseError, match="unbalanced quote: the ' before 'Buy milk'"):
        split_words("add 'Buy milk")


# Suggestions


def test_suggest_offers_the_choice_a_typo_was_meant_to_be() -> None:
    assert suggest("ad", ["add", "list", "done"]) == "add"


def test_suggest_offers_nothing_for_an_unrelated_word() -> None:
    assert suggest("banana", ["add", "list", "done"]) is None


def test_suggest_ignores_case_and_returns_the_choice_as_spelt() -> None:
    assert suggest("LIST", ["List", "add"]) == "List"


def test_suggest_offers_nothing_without_choices() -> None:
    assert suggest("add", []) is None


# Analysing signatures


def test_injected_parameters_are_recorded_and_not_parsed() -> None:
    signature = signature_of(add)

    assert signature.injected_parameters == {"ctx": Context}
    assert "ctx" not in signature.parameter_names
    assert "ctx" not in arguments_for(add, "milk")


def test_an_injected_type_inside_annotated_is_still_injected() -> None:
    def handler(ctx: Annotated[Context, "framework"], title: str) -> None:
        """An annotated context."""

    assert signature_of(handler).injected_parameters == {"ctx": Context}


def test_parameters_without_defaults_are_positionals_and_the_rest_options() -> None:
    signature = signature_of(move)

    assert [p.name for p in signature.positionals] == ["task_id"]
    assert [p.name for p in signature.options] == ["to", "notify"]


def test_an_async_function_is_analysed_like_a_plain_one() -> None:
    async def handler(ctx: Context, title: str, urgent: bool = False) -> None:
        """An async handler."""

    assert signature_of(handler).parse(["milk", "--urgent"]) == {"title": "milk", "urgent": True}


def test_string_annotations_are_resolved_in_the_functions_module() -> None:
    def handler(ctx: "Context", due: "date") -> None:
        """Annotations as `from __future__ import annotations` leaves them."""

    signature = signature_of(handler)

    assert signature.injected_parameters == {"ctx": Context}
    assert signature.parse(["tomorrow"], today=TODAY) == {"due": date(2026, 11, 29)}


def test_an_unsupported_type_names_function_parameter_and_type() -> None:
    message = signature_error(when_handler)

    assert message == f"{__name__}.when_handler: parameter 'when': unsupported type 'set[int]'"


def test_a_missing_annotation_is_a_signature_error() -> None:
    def handler(ctx: Context, title) -> None:  # type: ignore[no-untyped-def]
        """No annotation on title."""

    assert signature_error(handler) == (
        f"{__name__}.test_a_missing_annotation_is_a_signature_error.<locals>.handler: "
        "parameter 'title': needs a type annotation"
    )


def test_star_args_are_a_signature_error() -> None:
    def handler(ctx: Context, *words: str) -> None:
        """Variadic."""

    assert signature_error(handler).endswith(
        "parameter 'words': *args and **kwargs cannot come from mail; name each parameter"
    )


def test_star_star_kwargs_are_a_signature_error() -> None:
    def handler(ctx: Context, **options: str) -> None:
        """Variadic keywords."""

    assert signature_error(handler).endswith(
        "parameter 'options': *args and **kwargs cannot come from mail; name each parameter"
    )


def test_a_positional_only_parameter_is_a_signature_error() -> None:
    def handler(title: str, /) -> None:
        """Positional-only."""

    assert signature_error(handler).endswith(
        "parameter 'title': positional-only parameters cannot be passed by name; remove the '/'"
    )


def test_a_positional_after_a_list_positional_is_a_signature_error() -> None:
    def handler(ctx: Context, labels: list[str], title: str) -> None:
        """Nothing can follow a list positional."""

    assert signature_error(handler).endswith(
        "parameter 'title': comes after the list positional 'labels', "
        "which takes all the remaining words"
    )


def test_a_non_empty_mutable_default_is_a_signature_error() -> None:
    def handler(ctx: Context, tag: list[str] = ["home"]) -> None:  # noqa: B006
        """A shared mutable default."""

    assert signature_error(handler).endswith(
        "parameter 'tag': a mutable default must be empty (only [] is allowed), got ['home']"
    )


def test_a_dict_default_is_a_signature_error() -> None:
    def handler(ctx: Context, title: str = {}) -> None:  # type: ignore[assignment]
        """A dict default."""

    assert signature_error(handler).endswith(
        "a mutable default must be empty (only [] is allowed), got {}"
    )


def test_a_bool_positional_is_a_signature_error() -> None:
    def handler(ctx: Context, urgent: bool) -> None:
        """A bool without a default."""

    assert signature_error(handler).endswith(
        "parameter 'urgent': a bool must have a default: it is a --flag, not a positional"
    )


def test_a_keyword_only_bool_without_default_is_a_signature_error() -> None:
    def handler(ctx: Context, *, urgent: bool) -> None:
        """A required flag makes no sense."""

    assert signature_error(handler).endswith(
        "parameter 'urgent': a bool must have a default: it is a --flag"
    )


def test_a_list_of_bool_is_a_signature_error() -> None:
    def handler(ctx: Context, answers: list[bool] = []) -> None:  # noqa: B006
        """Repeated booleans."""

    assert signature_error(handler).endswith(
        "parameter 'answers': list[bool] is not supported; use a --flag"
    )


def test_a_bare_list_is_a_signature_error() -> None:
    def handler(ctx: Context, labels: list) -> None:  # type: ignore[type-arg]
        """A list of what?"""

    assert signature_error(handler).endswith(
        "parameter 'labels': unsupported type 'list': say what it holds, like list[str]"
    )


def test_a_union_of_two_types_is_a_signature_error() -> None:
    def handler(ctx: Context, key: int | str) -> None:
        """Ambiguous."""

    assert signature_error(handler).endswith("parameter 'key': unsupported type 'int | str'")


def test_a_literal_of_bools_is_a_signature_error() -> None:
    def handler(ctx: Context, answer: Literal[True, False] = True) -> None:
        """A flag in disguise."""

    assert signature_error(handler).endswith(
        "parameter 'answer': unsupported type 'Literal[True, False]'"
    )


def test_an_optional_injected_type_is_a_signature_error() -> None:
    def handler(ctx: Context | None, title: str) -> None:
        """The framework always injects the context."""

    assert signature_error(handler).endswith(
        "parameter 'ctx': the context is injected: annotate it as plain 'Context'"
    )


def test_an_unresolvable_string_annotation_is_a_signature_error() -> None:
    def handler(ctx: Context, due: "Nowhere") -> None:  # type: ignore[name-defined]  # noqa: F821
        """A name that does not exist."""

    assert "parameter 'due': cannot resolve the annotation 'Nowhere'" in signature_error(handler)


def test_two_parameters_with_the_same_option_are_a_signature_error() -> None:
    def handler(ctx: Context, all: bool = False, no_all: str = "") -> None:
        """--no-all would mean two things."""

    assert signature_error(handler).endswith(
        "parameter 'no_all': its option --no-all clashes with parameter 'all'"
    )


# Parsing invocations


def test_last_str_positional_takes_the_remaining_words() -> None:
    assert arguments_for(add, "Buy milk")["title"] == "Buy milk"


def test_options_may_come_before_between_and_after_positionals() -> None:
    arguments = arguments_for(add, "--tag home Buy --priority high milk --urgent")

    assert arguments == {
        "title": "Buy milk",
        "due": None,
        "tag": ["home"],
        "priority": "high",
        "urgent": True,
    }


def test_an_option_value_may_follow_an_equals_sign() -> None:
    assert arguments_for(add, "milk --priority=low")["priority"] == "low"


def test_absent_options_get_their_defaults() -> None:
    assert arguments_for(add, "milk") == {
        "title": "milk",
        "due": None,
        "tag": [],
        "priority": "normal",
        "urgent": False,
    }


def test_an_empty_list_default_is_a_new_list_each_time() -> None:
    signature = signature_of(add)
    first = signature.parse(["milk"])["tag"]

    assert first == []
    assert first is not signature.parse(["milk"])["tag"]


def test_options_accept_dashes_or_underscores_for_underscored_names() -> None:
    def handler(ctx: Context, due_date: date | None = None) -> None:
        """An underscored name."""

    signature = signature_of(handler)

    assert signature.parse(["--due-date", "today"], today=TODAY) == {"due_date": TODAY}
    assert signature.parse(["--due_date", "today"], today=TODAY) == {"due_date": TODAY}


def test_option_names_ignore_case() -> None:
    assert arguments_for(add, "milk --Priority HIGH")["priority"] == "high"


def test_a_dash_a_mail_client_made_of_two_hyphens_still_starts_an_option() -> None:
    assert arguments_for(add, "milk \u2014priority high \u2013urgent")["priority"] == "high"


def test_a_trailing_underscore_is_left_out_of_the_option_name() -> None:
    def handler(ctx: Context, from_: str = "") -> None:
        """`from` is a keyword."""

    signature = signature_of(handler)

    assert signature.usage("mail") == "mail [--from FROM]"
    assert signature.parse(["--from", "alice"]) == {"from_": "alice"}


def test_a_double_dash_ends_the_options() -> None:
    assert arguments_for(add, "-- --urgent is a word")["title"] == "--urgent is a word"


def test_a_single_dash_word_is_a_value_not_an_option() -> None:
    def handler(ctx: Context, amount: int) -> None:
        """A negative number."""

    assert signature_of(handler).parse(["-3"]) == {"amount": -3}


def test_a_flag_is_true_when_given() -> None:
    assert arguments_for(add, "milk --urgent")["urgent"] is True


def test_a_negated_flag_is_false() -> None:
    assert arguments_for(move, "4 --to today --no-notify")["notify"] is False


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("yes", True),
        ("no", False),
        ("true", True),
        ("FALSE", False),
        ("on", True),
        ("off", False),
        ("1", True),
        ("0", False),
    ],
)
def test_a_flag_accepts_an_explicit_yes_or_no_value(word: str, expected: bool) -> None:
    assert arguments_for(add, f"milk --urgent={word}")["urgent"] is expected


def test_a_flag_with_a_value_that_is_not_yes_or_no_is_a_parse_error() -> None:
    assert parse_error(add, "milk --urgent=maybe") == "urgent: expected yes or no, got 'maybe'"


def test_a_negated_flag_with_a_value_is_a_parse_error() -> None:
    assert parse_error(add, "milk --no-urgent=yes") == "urgent: --no-urgent takes no value"


def test_a_list_option_collects_every_repetition() -> None:
    assert arguments_for(add, "milk --tag home --tag=shop")["tag"] == ["home", "shop"]


def test_a_list_positional_takes_the_remaining_words_converted() -> None:
    def handler(ctx: Context, numbers: list[int]) -> None:
        """Numbers."""

    assert signature_of(handler).parse(["1", "2", "3"]) == {"numbers": [1, 2, 3]}


def test_earlier_positionals_take_one_word_each() -> None:
    assert arguments_for(tell, "bob hello there") == {"to": "bob", "words": "hello there"}


def test_a_positional_may_be_given_by_name_as_an_option() -> None:
    assert arguments_for(tell, "--words hi bob") == {"to": "bob", "words": "hi"}


def test_an_unknown_option_suggests_the_nearest_known_one() -> None:
    assert parse_error(add, "milk --prio high") == "unknown option --prio; did you mean --priority?"


def test_an_unknown_option_lists_the_options_when_nothing_is_near() -> None:
    assert parse_error(add, "milk --zzz") == (
        "unknown option --zzz; the options are --due, --tag, --priority, --urgent"
    )


def test_an_unknown_option_to_a_command_without_options_says_so() -> None:
    assert parse_error(tell, "bob hi --zzz") == (
        "unknown option --zzz: this command takes no options"
    )


def test_negating_an_option_that_is_not_a_flag_is_an_unknown_option() -> None:
    assert parse_error(add, "milk --no-due").startswith("unknown option --no-due")


def test_a_missing_positional_is_a_parse_error() -> None:
    assert parse_error(add, "--urgent") == "TITLE is missing: expected text"


def test_a_missing_list_positional_is_a_parse_error() -> None:
    assert parse_error(tag_task, "42") == "LABELS is missing: expected text"


def test_a_missing_required_option_is_a_parse_error() -> None:
    assert parse_error(move, "42") == "--to is missing: expected a date like 2026-12-01"


def test_too_many_words_is_a_parse_error() -> None:
    def handler(ctx: Context, task_id: int) -> None:
        """One number."""

    with pytest.raises(CommandParseError) as raised:
        signature_of(handler).parse(["42", "and", "more"])

    assert str(raised.value) == "too many words: 'and more' is left over after TASK_ID"


def test_words_after_prefilled_positionals_are_too_many() -> None:
    def handler(ctx: Context, task_id: int) -> None:
        """One number, from the plus-tag."""

    with pytest.raises(CommandParseError) as raised:
        signature_of(handler).parse(["more"], prefilled={"task_id": "42"})

    assert str(raised.value) == "too many words: 'more'; this command takes no more words"


def test_words_for_a_command_without_positionals_are_a_parse_error() -> None:
    def list_all(ctx: Context, all: bool = False) -> None:
        """Only a flag."""

    assert parse_error(list_all, "x") == "too many words: 'x'; this command takes no words"


def test_a_bad_value_names_the_parameter_and_what_was_expected() -> None:
    assert parse_error(show, "x note") == "TASK_ID: expected a whole number like 42, got 'x'"


def test_an_option_given_twice_is_a_parse_error() -> None:
    assert parse_error(add, "milk --priority low --priority high") == (
        "priority: given more than once (it takes one value)"
    )


def test_a_flag_given_twice_is_a_parse_error() -> None:
    assert parse_error(add, "milk --urgent --no-urgent") == (
        "urgent: given more than once (it takes one value)"
    )


def test_an_option_at_the_end_without_a_value_is_a_parse_error() -> None:
    assert parse_error(add, "milk --due") == "due: expected a date like 2026-12-01 after --due"


def test_an_option_followed_by_another_option_has_no_value() -> None:
    assert parse_error(add, "milk --due --urgent") == (
        "due: expected a date like 2026-12-01 after --due"
    )


def test_a_misspelt_choice_gets_a_suggestion() -> None:
    assert parse_error(add, "milk --priority hihg") == (
        "priority: expected one of low, normal, high, got 'hihg'; did you mean 'high'?"
    )


def test_parse_errors_stay_on_one_line_whatever_the_input() -> None:
    message = parse_error(show, '"4\n2" note')

    assert "\n" not in message


# Prefilled values (the address's plus-tag)


def test_a_prefilled_positional_leaves_the_positional_order() -> None:
    arguments = arguments_for(show, "hello there", prefilled={"task_id": "42"})

    assert arguments == {"task_id": 42, "note": "hello there"}


def test_an_explicit_option_wins_over_a_prefilled_value() -> None:
    arguments = arguments_for(show, "--task-id 7 hello", prefilled={"task_id": "42"})

    assert arguments == {"task_id": 7, "note": "hello"}


def test_a_prefilled_option_replaces_its_default() -> None:
    def comment(ctx: Context, number: int | None = None) -> None:
        """A reply to lab+N@."""

    assert signature_of(comment).parse([], prefilled={"number": "5"}) == {"number": 5}


def test_a_bad_prefilled_value_is_a_parse_error() -> None:
    assert parse_error(show, "note", prefilled={"task_id": "abc"}) == (
        "TASK_ID: expected a whole number like 42, got 'abc'"
    )


def test_prefilling_an_unknown_parameter_is_the_callers_bug() -> None:
    with pytest.raises(TypeError, match="nothing to prefill named 'nope'"):
        arguments_for(show, "4 note", prefilled={"nope": "1"})


# Values


def test_ints_floats_and_decimals_are_converted() -> None:
    assert value_of(int, "42") == 42
    assert value_of(float, "2.5") == 2.5
    assert value_of(Decimal, "12.50") == Decimal("12.50")


@pytest.mark.parametrize("annotation", [float, Decimal])
def test_a_decimal_comma_is_accepted(annotation: type) -> None:
    assert value_of(annotation, "12,50") == annotation("12.50")


def test_a_decimal_with_both_comma_and_point_is_a_parse_error() -> None:
    assert value_error(Decimal, "1.234,50") == (
        "VALUE: expected an amount like 12.50, got '1.234,50'"
    )


@pytest.mark.parametrize("word", ["nan", "inf", "-Infinity"])
def test_numbers_that_are_not_finite_are_refused(word: str) -> None:
    assert value_error(float, word) == f"VALUE: expected a number like 2.5, got {word!r}"
    assert value_error(Decimal, word) == f"VALUE: expected an amount like 12.50, got {word!r}"


def test_an_enum_matches_by_value_or_name_ignoring_case() -> None:
    assert value_of(Colour, "NAVY") is Colour.DARK_BLUE
    assert value_of(Colour, "dark_blue") is Colour.DARK_BLUE


def test_an_int_enum_member_with_value_zero_is_found() -> None:
    assert value_of(Level, "0") is Level.OFF
    assert value_of(Level, "off") is Level.OFF


def test_a_bad_enum_value_lists_the_choices() -> None:
    assert value_error(Colour, "green") == "VALUE: expected one of red, navy, got 'green'"


def test_a_literal_of_ints_gives_the_int() -> None:
    assert value_of(Literal[1, 2, 3], "2") == 2


def test_an_optional_type_reads_like_its_inner_type() -> None:
    assert value_of(Optional[int], "7") == 7  # noqa: UP045 - the spelling under test
    assert value_of(int | None, "7") == 7


# Dates


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("2026-12-01", date(2026, 12, 1)),
        ("today", date(2026, 11, 28)),
        ("Tomorrow", date(2026, 11, 29)),
        ("yesterday", date(2026, 11, 27)),
        ("+3d", date(2026, 12, 1)),
        ("-1d", date(2026, 11, 27)),
        ("+2w", date(2026, 12, 12)),
        ("sunday", date(2026, 11, 29)),
        ("friday", date(2026, 12, 4)),
        ("fri", date(2026, 12, 4)),
    ],
)
def test_dates_are_iso_or_relative_to_today(word: str, expected: date) -> None:
    assert value_of(date, word) == expected


def test_a_weekday_is_strictly_after_today_so_today_s_name_is_next_week() -> None:
    assert value_of(date, "saturday") == date(2026, 12, 5)


def test_relative_dates_default_to_the_clock_s_today() -> None:
    def handler(ctx: Context, due: date) -> None:
        """A date."""

    before = date.today()
    due = signature_of(handler).parse(["tomorrow"])["due"]

    assert due in {before + timedelta(days=1), date.today() + timedelta(days=1)}


def test_a_bad_date_names_the_parameter_and_the_expected_form() -> None:
    assert parse_error(add, "milk --due 2026-13-01") == (
        "due: expected a date like 2026-12-01, got '2026-13-01'"
    )


def test_a_misspelt_date_word_gets_a_suggestion() -> None:
    assert parse_error(add, "milk --due tomorow") == (
        "due: expected a date like 2026-12-01, got 'tomorow'; did you mean 'tomorrow'?"
    )


def test_a_date_offset_of_more_than_five_digits_is_a_parse_error_not_a_crash() -> None:
    assert value_error(date, "+999999w") == (
        "VALUE: expected a date like 2026-12-01, got '+999999w'"
    )


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("2026-12-01T09:30", datetime(2026, 12, 1, 9, 30)),
        ("2026-12-01 09:30", datetime(2026, 12, 1, 9, 30)),
        ("2026-12-01T09:30:00+01:00", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
        ("2026-12-01T09:30Z", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_datetimes_are_iso_8601_with_or_without_a_zone(word: str, expected: datetime) -> None:
    assert value_of(datetime, word) == expected


def test_a_datetime_without_a_zone_is_naive() -> None:
    value = value_of(datetime, "2026-12-01 09:30")

    assert isinstance(value, datetime)
    assert value.tzinfo is None


def test_a_bad_datetime_is_a_parse_error() -> None:
    assert value_error(datetime, "soon") == (
        "VALUE: expected a date and time like 2026-12-01 09:30, got 'soon'"
    )


# Usage and help


def test_usage_shows_positionals_upper_case_and_options_in_brackets() -> None:
    assert signature_of(add).usage("add") == (
        "add TITLE [--due DATE] [--tag TAG ...] [--priority low|normal|high] [--urgent]"
    )


def test_usage_shows_a_required_option_without_brackets_and_a_true_flag_negated() -> None:
    assert signature_of(move).usage("move") == "move TASK_ID --to DATE [--no-notify]"


def test_usage_shows_a_list_positional_with_dots() -> None:
    assert signature_of(tag_task).usage("tag") == "tag TASK_ID LABELS ..."


def test_usage_shows_the_choices_of_an_enum() -> None:
    def paint(ctx: Context, colour: Colour, level: Level = Level.LOW) -> None:
        """Enums."""

    assert signature_of(paint).usage("paint") == "paint red|navy [--level off|low]"


def test_usage_of_a_command_without_parameters_is_the_verb() -> None:
    def ping(ctx: Context) -> None:
        """Nothing to parse."""

    assert signature_of(ping).usage("ping") == "ping"


def test_options_help_describes_each_parameter_by_type_and_default() -> None:
    assert signature_of(add).options_help() == [
        ("TITLE", "Text."),
        ("--due DATE", f"A date: {DATE_FORMS}. Default: none."),
        ("--tag TAG ...", "Text. Repeatable."),
        ("--priority low|normal|high", "One of low, normal, high. Default: normal."),
        ("--urgent", "A flag. Default: off."),
    ]


def test_help_lists_every_date_form_and_each_one_parses() -> None:
    shown = {form.strip("(),:") for form in DATE_FORMS.split()}
    date_words = {*DATE_WORDS, *(weekday[:3] for weekday in WEEKDAYS)}
    examples = {word for word in shown if word in date_words or any(c.isdigit() for c in word)}

    assert {"2026-12-24", "today", "tomorrow", "fri", "friday", "+3d", "+2w"} <= examples
    for example in examples:
        assert isinstance(read_date(example, TODAY), date), example


def test_options_help_uses_help_markers() -> None:
    def handler(
        ctx: Context,
        title: Annotated[str, Help("what to do")],
        due: Annotated[date, Help("when it is due")] = date(2026, 12, 1),
        notify: Annotated[bool, "ignored", Help("tell the team")] = True,
        level: Annotated[Level | None, Help("how loud")] = Level.LOW,
    ) -> None:
        """Every parameter documented."""

    assert signature_of(handler).options_help() == [
        ("TITLE", "What to do."),
        ("--due DATE", f"When it is due. A date: {DATE_FORMS}. Default: 2026-12-01."),
        ("--no-notify", "Tell the team. Default: on."),
        ("--level off|low", "How loud. One of off, low. Default: low."),
    ]
