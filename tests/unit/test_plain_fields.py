"""The fast reading of plain header values agrees with `policy.default`'s header registry.

`plain_fields` reads Subject-like text and From without the registry when a value is
in its plainest shape; on random and hostile values, whatever it reads must be what
the registry reads, and what it leaves alone goes to the registry.
"""

from email.policy import default

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailcmd.message.plain_fields import plain_mailbox, plain_text

# The pieces that header parsers trip over: atoms, specials, quoting, comments,
# encoded-words whole and broken, non-ASCII, controls, folding whitespace.
PIECES = st.sampled_from(
    [
        *["alice", "Bob", "x.y", "a-b", "=", "?", "=?", "?=", "@", ".", "..", "<", ">"],
        *[" ", "  ", "\t", ",", ";", ":", '"', "\\", "(", ")", "[", "]", "\x00", "\x7f"],
        *["=?utf-8?q?J=C3=B6rg?=", "=?iso-8859-1?b?SvZyZw==?=", "=?x?q?", "Jörg", "ß", "\u202e"],
        *["a@b.example", "<a@b.example>", "Alice Smith <a.s@example.org>", "group: a@b;"],
        *["\udcff", "\r", "\n", "\r\n ", "\u3000", "\xa0"],
    ]
)
VALUE = st.one_of(
    st.lists(PIECES, max_size=12).map("".join),
    st.text(max_size=60),
    st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=60),
)


@settings(max_examples=3000, deadline=None)
@given(value=VALUE)
@example(value="Subject with  two spaces\tand a tab")
@example(value="a = b? c=? d")
def test_plain_text_is_what_the_registry_decodes(value: str) -> None:
    plain = plain_text(value)
    if plain is not None:
        header = default.header_factory("X-Unstructured", value)
        assert (plain, list(header.defects)) == (str(header), [])


@settings(max_examples=3000, deadline=None)
@given(value=VALUE)
@example(value="alice@app.localhost")
@example(value="  Alice \t Smith<a.s@Example.ORG>  ")
@example(value="<a@b>")
def test_plain_mailbox_is_what_the_registry_reads(value: str) -> None:
    plain = plain_mailbox(value)
    if plain is not None:
        addresses = default.header_factory("From", value).addresses
        assert [plain] == [(a.display_name, a.addr_spec) for a in addresses]


def test_the_commonest_values_are_read_without_the_registry() -> None:
    assert plain_text("add Buy milk 12") == "add Buy milk 12"
    assert plain_mailbox("alice@app.localhost") == ("", "alice@app.localhost")
    assert plain_mailbox("Alice Smith <alice@example.org>") == ("Alice Smith", "alice@example.org")


def test_values_that_need_decoding_go_to_the_registry() -> None:
    assert plain_text("=?utf-8?q?J=C3=B6rg?=") is None
    assert plain_text("Jörg") is None
    assert plain_mailbox('"Smith, Alice" <alice@example.org>') is None
    assert plain_mailbox("alice@example.org (Alice)") is None
    assert plain_mailbox("a@b.example, c@d.example") is None
