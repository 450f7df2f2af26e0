"""Replies' text as format=flowed (RFC 3676): `encode_flowed` against the RFC's rules.

Each case is decoded again with `decode_flowed` (the decoder mailcmd reads its
users' flowed mail with), which must give back the paragraphs, quote depth and
indentation that were written.
"""

import pytest

from mailcmd.message.flowed import FLOWED_WIDTH, decode_flowed, encode_flowed

PROSE = (
    "The plumber can come on Tuesday or Thursday morning, but not before nine, and he "
    "wants the old tap kept for the parts; call him back before noon."
)


def lines_of(flowed: str) -> list[str]:
    return flowed.split("\n")


def test_text_within_78_columns_is_sent_as_it_is() -> None:
    text = "Task 1: Buy milk\nStatus:   open\n\n> add Buy milk\nDone: mailto:x\n"

    assert encode_flowed(text) == text


def test_a_long_line_is_cut_at_soft_breaks_that_decode_to_the_line() -> None:
    flowed = encode_flowed(PROSE + "\n")

    *pieces, last, end = lines_of(flowed)
    assert len(pieces) >= 1
    assert all(len(line) <= FLOWED_WIDTH for line in lines_of(flowed))
    assert all(piece.endswith(" ") for piece in pieces)
    assert not last.endswith(" ")
    assert end == ""
    assert decode_flowed(flowed) == PROSE + "\n"


def test_a_quoted_long_line_keeps_its_quote_depth_on_every_piece() -> None:
    flowed = encode_flowed(f">> {PROSE}")

    assert len(lines_of(flowed)) > 1
    assert all(line.startswith(">> ") and line[3] != ">" for line in lines_of(flowed))
    assert all(len(line) <= FLOWED_WIDTH for line in lines_of(flowed))
    assert decode_flowed(flowed) == f">> {PROSE}"


def test_an_indented_long_line_is_cut_into_hard_lines_that_repeat_the_indent() -> None:
    flowed = encode_flowed(f"      {PROSE}")

    decoded = decode_flowed(flowed).split("\n")
    assert len(decoded) > 1
    # Space-stuffed on the wire, and no piece ends in a soft break.
    assert all(line.startswith("       ") for line in lines_of(flowed))
    assert not any(line.endswith(" ") for line in lines_of(flowed))
    assert all(len(line) <= FLOWED_WIDTH for line in lines_of(flowed))
    assert all(line.startswith("      ") and line[6] != " " for line in decoded)
    assert " ".join(line.strip() for line in decoded) == PROSE


def test_a_quoted_indented_line_keeps_both_its_depth_and_its_indent() -> None:
    flowed = encode_flowed(f">   {PROSE}")

    decoded = decode_flowed(flowed).split("\n")
    assert all(line.startswith(">   ") and line[4] != " " for line in decoded)
    assert all(len(line) <= FLOWED_WIDTH for line in lines_of(flowed))
    assert " ".join(line[4:] for line in decoded) == PROSE


def test_trailing_spaces_are_dropped_so_a_line_of_spaces_is_a_blank_line() -> None:
    flowed = encode_flowed("First paragraph.   \n    \nSecond paragraph.\n")

    assert flowed == "First paragraph.\n\nSecond paragraph.\n"


@pytest.mark.parametrize(
    ("line", "sent"),
    [
        ("From now on, earlier.", " From now on, earlier."),
        ("  indented", "   indented"),
    ],
)
def test_lines_starting_with_from_or_a_space_are_space_stuffed(line: str, sent: str) -> None:
    assert encode_flowed(line) == sent
    assert decode_flowed(sent) == line


def test_a_soft_cut_piece_that_would_start_with_from_is_space_stuffed() -> None:
    text = "x" * 72 + " From the start of the week, then again on Friday."

    flowed = encode_flowed(text)

    assert lines_of(flowed)[1].startswith(" From ")
    assert decode_flowed(flowed) == text


def test_the_signature_separator_is_kept_and_never_a_soft_break() -> None:
    text = "Thanks.\n-- \nmailcmd\n"

    flowed = encode_flowed(text)

    assert flowed == text
    assert decode_flowed(flowed) == text


def test_a_word_longer_than_a_line_is_not_split() -> None:
    link = "mailto:tasks+1.k7q2mxab3d@app.localhost?subject=" + "done%20" * 20
    text = f"Done: {link}"

    flowed = encode_flowed(text)

    assert link in lines_of(flowed)
    assert decode_flowed(flowed) == text


def test_a_whole_reply_decodes_to_its_paragraphs_quotes_and_indents() -> None:
    text = (
        "Comments:\n"
        "  alice, 2026-12-07 05:00 UTC:\n"
        f"    {PROSE}\n"
        "    \n"
        "      - first thing\n"
        f"> {PROSE}\n"
        "\n"
        f"{PROSE}\n"
    )

    flowed = encode_flowed(text)

    assert all(len(line) <= FLOWED_WIDTH for line in lines_of(flowed))
    decoded = decode_flowed(flowed).split("\n")
    assert decoded[:2] == ["Comments:", "  alice, 2026-12-07 05:00 UTC:"]
    comment = decoded[2 : decoded.index("")]
    assert " ".join(line.strip() for line in comment) == PROSE
    assert all(line.startswith("    ") for line in comment)
    rest = decoded[decoded.index("") + 1 :]
    assert rest == ["      - first thing", f"> {PROSE}", "", PROSE, ""]
