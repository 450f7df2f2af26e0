"""Did-you-mean suggestions for misspelt verbs, options and choices."""

import difflib
from collections.abc import Iterable

# difflib's similarity ratio above which a choice is offered as the intended word:
# 0.6 catches one or two slipped letters without suggesting unrelated words.
CUTOFF = 0.6


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to `word` if it is close enough to be a typo, else None.

    Comparison ignores case; the choice is returned as spelt in `choices`.
    """
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    matches = difflib.get_close_matches(word.casefold(), by_folded, n=1, cutoff=CUTOFF)
    return by_folded[matches[0]] if matches else None
