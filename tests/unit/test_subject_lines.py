"""Subjects made from what a person wrote, cut where a reader expects: between words."""

import pytest

from mailcmd.app.subject_lines import ELLIPSIS, shorten

REFUSED = "nothing to add: write above the quoted text, or put a command in the subject"


def test_a_text_that_fits_is_kept_as_it_is() -> None:
    assert shorten("you have no task 7", 60) == "you have no task 7"
    assert shorten("x" * 60, 60) == "x" * 60


def test_a_long_text_is_cut_between_words_with_an_ellipsis_within_the_budget() -> None:
    cut = shorten(REFUSED, 60)

    assert cut == f"nothing to add: write above the quoted text, or put a{ELLIPSIS}"
    assert len(cut) <= 60


@pytest.mark.parametrize("limit", range(20, len(REFUSED)))
def test_every_cut_ends_a_whole_word_of_the_text(limit: int) -> None:
    cut = shorten(REFUSED, limit)

    assert len(cut) <= limit
    assert cut.endswith(ELLIPSIS)
    kept = cut.removesuffix(ELLIPSIS).rstrip(",:")
    assert REFUSED.startswith(kept)
    assert REFUSED[len(kept)] in " ,:"


def test_punctuation_before_the_cut_gives_way_to_the_ellipsis() -> None:
    assert shorten("first, second third", 10) == f"first{ELLIPSIS}"


def test_one_word_longer_than_the_budget_is_cut_where_the_budget_ends() -> None:
    url = "https://example.org/" + "a" * 80

    assert shorten(url, 40) == url[:39] + ELLIPSIS
    assert shorten(f"see {url}", 40) == f"see {url}"[:39] + ELLIPSIS
