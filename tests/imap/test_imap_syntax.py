"""The mailbox server's pure parts: tokens, sequence sets, MIME splitting, FETCH item names."""

import pytest

from mailcmd.imap.fetch_items import parse_fetch_items
from mailcmd.imap.formatting import string
from mailcmd.imap.message_commands import uid_set
from mailcmd.imap.mime import parse_entity, split_multipart
from mailcmd.imap.sequences import parse_sequence_set, resolve_numbers, resolve_uids
from mailcmd.imap.tokens import ImapParseError, tokenize


def test_tokens_atoms_strings_lists_and_literals() -> None:
    tokens = tokenize(b'a1 LOGIN "al\\"ice" {5}\r\npa ss (X (Y "z"))')

    assert tokens == ["a1", "LOGIN", b'al"ice', b"pa ss", ["X", ["Y", b"z"]]]


def test_fetch_attribute_with_brackets_is_one_atom() -> None:
    tokens = tokenize(b"a1 FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)")

    assert tokens[3] == ["UID", "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>"]


@pytest.mark.parametrize(
    "command",
    [b'a1 LOGIN "open', b"a1 (unbalanced", b"a1 closed)", b"a1 {5}\r\nab", b"a1 BODY[1", b"\x00"],
)
def test_malformed_commands_raise_parse_error(command: bytes) -> None:
    with pytest.raises(ImapParseError):
        tokenize(command)


def test_sequence_sets_by_number_and_by_uid() -> None:
    ranges = parse_sequence_set("1,3:4,6:*")

    assert resolve_numbers(ranges, 6) == [0, 2, 3, 5]
    assert resolve_uids(parse_sequence_set("4:*"), [2, 3, 10]) == [2]
    assert resolve_uids(parse_sequence_set("20:*"), [2, 3, 10]) == [2]
    assert resolve_uids(parse_sequence_set("5:8"), [2, 3, 10]) == []
    with pytest.raises(ImapParseError):
        parse_sequence_set("0:3")
    with pytest.raises(ImapParseError):
        parse_sequence_set("1,,2")


def test_uid_sets_are_written_compactly() -> None:
    assert uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert uid_set([]) == ""


def test_multipart_parts_are_the_exact_bytes_between_delimiters() -> None:
    body = b"preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue\r\n"

    assert split_multipart(body, b"b") == [b"A: 1\r\n\r\none", b"\r\ntwo"]


def test_a_multipart_without_its_closing_delimiter_keeps_its_last_part() -> None:
    raw = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo'

    entity = parse_entity(raw)

    assert [child.body for child in entity.children] == [b"one", b"two"]


def test_fetch_item_names() -> None:
    items = parse_fetch_items(["UID", "BODY[1.2.MIME]", "BODY.PEEK[HEADER.FIELDS (A b)]<5.10>"])

    assert [item.label() for item in items] == [
        b"UID",
        b"BODY[1.2.MIME]",
        b"BODY[HEADER.FIELDS (A B)]<5>",
    ]
    assert items[1].sets_seen
    assert not items[2].sets_seen
    with pytest.raises(ImapParseError):
        parse_fetch_items("BODY[MIME]")
    with pytest.raises(ImapParseError):
        parse_fetch_items("BODY[0]")


def test_strings_are_quoted_when_they_can_be_and_literals_otherwise() -> None:
    assert string('say "hi"') == b'"say \\"hi\\""'
    assert string("café") == b"{5}\r\ncaf\xc3\xa9"
    assert string("two\r\nlines") == b"{10}\r\ntwo\r\nlines"
