"""A command line split into words, the way a person typing in a mail client means it."""

from collections.abc import Iterable

from mailcmd.parsing.errors import CommandParseError

# Mail clients turn typed quotes into typographic ones, and some languages quote with
# guillemets or low-high pairs (German „…“, Swedish ”…”), so within each family any
# mark closes what any other opened.
DOUBLE_QUOTES = frozenset('"\u201c\u201d\u201e\u201f\u00ab\u00bb\uff02')
SINGLE_QUOTES = frozenset("'\u2018\u2019\u201a\u201b\u2039\u203a")

# How much of the text after an unclosed quote the error message shows.
_SNIPPET = 30


def split_words(text: str) -> list[str]:
    """Split a command line into words.

    The rules, chosen to be predictable rather than shell-complete:

    - whitespace (any Unicode space, including no-break space) separates words;
    - a double quote (`"`, `“ ”`, `„`, `« »`) starts a group anywhere and the next
      double quote of any kind ends it, so `"Buy milk"` and `--title=“Buy milk”`
      give one word each; `""` is an empty word;
    - a single quote (`'`, or its typographic U+2018 and U+2019) starts a group only
      at the start of a word or after `=`, and ends it only where no letter or digit
      follows, so the apostrophes in `don't`, `O'Brien's` and `'don't'` are letters;
    - a backslash is an ordinary character: there are no escapes.

    Raises `CommandParseError` if a quote is never closed.
    """
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote = ""  # the mark that opened the group we are in, or ""
    opened_at = 0
    for index, character in enumerate(text):
        if quote in DOUBLE_QUOTES:
            if character in DOUBLE_QUOTES:
                quote = ""
            else:
                current.append(character)
        elif quote:
            if character in SINGLE_QUOTES and not _letter_follows(text, index):
                quote = ""
            else:
                current.append(character)
        elif character.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        elif character in DOUBLE_QUOTES or (
            character in SINGLE_QUOTES and (not in_word or text[index - 1] == "=")
        ):
            quote, opened_at, in_word = character, index, True
        else:
            current.append(character)
            in_word = True
    if quote:
        rest = text[opened_at + 1 :].strip()
        if not rest:
            raise CommandParseError(f"unbalanced quote: the {quote} at the end is never closed")
        shown = rest if len(rest) <= _SNIPPET else rest[:_SNIPPET] + "..."
        raise CommandParseError(f"unbalanced quote: the {quote} before {shown!r} is never closed")
    if in_word:
        words.append("".join(current))
    return words


def _letter_follows(text: str, index: int) -> bool:
    return index + 1 < len(text) and text[index + 1].isalnum()


def join_words(words: Iterable[str]) -> str:
    """Write words as a command line that `split_words` splits back into the same words.

    A word with a space or a quote mark in it, or an empty one, is put in double
    quotes; one that holds a double quote mark cannot be written (there are no
    escapes) and raises `ValueError`.
    """
    written = []
    for word in words:
        if any(character in DOUBLE_QUOTES for character in word):
            raise ValueError(f"{word!r} cannot be written in a command line: it has a double quote")
        plain = word and not any(
            character.isspace() or character in SINGLE_QUOTES for character in word
        )
        written.append(word if plain else f'"{word}"')
    return " ".join(written)
