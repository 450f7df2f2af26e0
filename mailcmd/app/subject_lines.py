"""Subject lines made from text mailcmd did not choose: cut short where a reader expects."""

import re

# What marks a cut: one character, so that a cut subject stays within its budget.
ELLIPSIS = "\u2026"
# Punctuation that reads oddly just before the ellipsis ("the task,…").
_TRAILING = ",;:-"
# The last word of a cut start, with the whitespace before it.
_LAST_WORD = re.compile(r"\s+\S*\Z")


def shorten(text: str, limit: int) -> str:
    """Return `text` when it fits `limit` characters, else its start cut at a word
    boundary and ended with `…`, all within `limit`.

    A cut never splits a word, unless the text's first words leave no space to cut
    at in the first half of the budget (one long word, a URL): then it is cut where
    the budget ends, still with `…`, so that the reader sees that more was written.
    """
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    room = limit - len(ELLIPSIS)
    start = text[:room]
    if not text[room].isspace():
        # The budget ends inside a word: keep only the words that fit whole.
        last = _LAST_WORD.search(start)
        if last is not None and last.start() >= room // 2:
            start = start[: last.start()]
    return start.rstrip().rstrip(_TRAILING).rstrip() + ELLIPSIS
