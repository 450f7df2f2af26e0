"""Text a client sends is read in linear time: hostile input of a realistic maximum size.

Each test feeds one reader the input that would make a backtracking or rescanning
reader super-linear, at the size a client can send (a 1 MB body or header, a 100 kB
subject), and asserts it is done within a bound that a linear reader meets many times
over and a quadratic one misses by hours.
"""

import time
from collections.abc import Callable

import pytest

from mailcmd.identity.authenticity import StaticResolver, check_host, evaluate
from mailcmd.identity.authors import names_domain, sole_address
from mailcmd.message import _TAG, parse_message
from mailcmd.message.html_text import html_to_text
from mailcmd.message.quotes import new_text
from mailcmd.message.raw_fields import header_fields
from mailcmd.parsing.subjects import strip_subject_prefixes

MEGABYTE = 1 << 20
SUBJECT_SIZE = 100_000
# Generous: the inputs below take at most about 1 s on a loaded test machine.
BOUND_SECONDS = 5.0


def repeated(piece: str, size: int = MEGABYTE) -> str:
    return (piece * (size // len(piece) + 1))[:size]


def seconds(work: Callable[[], object]) -> float:
    start = time.monotonic()
    work()
    return time.monotonic() - start


# html.parser rescanned to the end for each markup that did not close: 200 kB of "<a"
# took 52 s before html_text.defused, `<!--x>` and `<![CDATA[x>` were as bad.
@pytest.mark.parametrize(
    "piece", ["<a", "</", "<!--x>", "<![CDATA[x>", "<![if x>", "<?", "<!", "<a b='>\"", "<"]
)
def test_html_body_of_unclosed_markup_renders_in_linear_time(piece: str) -> None:
    assert seconds(lambda: html_to_text(repeated(piece))) < BOUND_SECONDS


def test_html_of_unclosed_links_keeps_each_text_once() -> None:
    # Each unclosed <a> used to collect all the text after it: quadratic time and memory.
    html = repeated("<a href='x'>y ")

    assert seconds(lambda: html_to_text(html)) < BOUND_SECONDS
    assert len(html_to_text(html)) < 2 * len(html)


def test_html_part_is_rendered_in_linear_time_through_the_message_view() -> None:
    raw = (
        b"From: x@example.org\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + repeated("<a", MEGABYTE).encode()
    )

    assert seconds(lambda: parse_message(raw)) < BOUND_SECONDS


def test_fallback_tag_stripping_is_linear_in_a_run_of_angle_brackets() -> None:
    # `<[^>]*>` scanned to the end from each `<`: 1 MB of them took hours.
    assert seconds(lambda: _TAG.sub(" ", "<" * MEGABYTE)) < 1.0


@pytest.mark.parametrize("subject", ["Re: " * (SUBJECT_SIZE // 4), "[a] " * (SUBJECT_SIZE // 4)])
def test_subject_prefixes_of_a_100_kb_subject_are_stripped_in_linear_time(subject: str) -> None:
    assert seconds(lambda: strip_subject_prefixes(subject + "[")) < 1.0


@pytest.mark.parametrize(
    "body", [repeated("sent from my phone\n"), repeated("On x wrote:\n"), repeated("-- ")]
)
def test_quotes_and_trailers_of_a_1_mb_body_are_found_in_linear_time(body: str) -> None:
    assert seconds(lambda: new_text(body)) < BOUND_SECONDS


def test_spf_domain_check_of_a_1_mb_domain_is_linear() -> None:
    domain = repeated("a.") + "!"

    assert seconds(lambda: check_host("192.0.2.1", domain, StaticResolver({}))) < 1.0


def test_verdict_on_a_1_mb_envelope_domain_and_from_is_linear() -> None:
    hostile = repeated("a.")
    raw = f"From: x@{hostile}\r\nSubject: x\r\n\r\nbody\r\n".encode()

    assert (
        seconds(lambda: evaluate(raw, "192.0.2.1", "mx.test", f"x@{hostile}", StaticResolver({})))
        < BOUND_SECONDS
    )


@pytest.mark.parametrize(
    "value", [repeated("@app.localhost."), repeated("a@b, "), repeated("(") + "x@app.localhost"]
)
def test_authors_of_a_1_mb_from_field_are_read_in_linear_time(value: str) -> None:
    assert seconds(lambda: (names_domain([value], "app.localhost"), sole_address([value]))) < 1.0


def test_header_of_a_megabyte_of_folded_lines_is_read_in_linear_time() -> None:
    raw = ("From: x@example.org\r\n" + repeated("X: y\r\n \r\n")).encode()

    assert seconds(lambda: header_fields(raw)) < BOUND_SECONDS
