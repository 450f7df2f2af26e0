"""Signed reply keys: only the holder a key was made for can use it, for its mailbox and tag."""

import re
from datetime import date, timedelta

import pytest

from mailcmd.addressing.reply_keys import (
    KeyRefused,
    ReplyKeys,
    TagError,
    account_holder,
    address_holder,
)

KEYS = ReplyKeys([b"k" * 32])
ALICE = account_holder(1)
BOB = account_holder(2)
TODAY = date(2026, 12, 6)


def test_a_signed_tag_comes_back_as_the_plain_tag_for_its_holder() -> None:
    signed = KEYS.sign("tasks", "42", ALICE)

    assert re.fullmatch(r"42\.[a-z2-7]{10}", signed)
    assert KEYS.check("tasks", signed, ALICE, TODAY) == "42"


def test_a_key_survives_a_server_that_changes_the_case_of_local_parts() -> None:
    signed = KEYS.sign("tasks", "42", ALICE)

    assert KEYS.check("Tasks", signed.upper(), ALICE, TODAY) == "42"


@pytest.mark.parametrize(
    ("mailbox", "signed", "holder"),
    [
        ("tasks", KEYS.sign("tasks", "42", ALICE), BOB),
        ("notes", KEYS.sign("tasks", "42", ALICE), ALICE),
        ("tasks", KEYS.sign("tasks", "42", ALICE).replace("42.", "43."), ALICE),
        ("tasks", "42", ALICE),
        ("tasks", "42.", ALICE),
        ("tasks", "42.abcdefghij", ALICE),
        ("tasks", "42.abcdefghi", ALICE),
        ("tasks", "42.abcdefghij1", ALICE),
        ("tasks", "42.ab+defghij", ALICE),
        ("tasks", "42.ABCDEFGHI0", ALICE),
        ("tasks", "." + KEYS.sign("tasks", "42", ALICE).split(".")[1], ALICE),
        ("tasks", KEYS.sign("tasks", "42", address_holder("bo@example.org")), ALICE),
    ],
    ids=[
        "another holder",
        "another mailbox",
        "another tag",
        "bare tag",
        "empty key",
        "made-up key",
        "short key",
        "key with a digit outside base32",
        "key with a plus",
        "upper-case garbage",
        "no tag",
        "a stranger's key",
    ],
)
def test_a_key_that_is_not_the_holders_is_refused(mailbox: str, signed: str, holder: str) -> None:
    assert KEYS.check(mailbox, signed, holder, TODAY) == KeyRefused()


def test_a_tampered_key_is_refused_whichever_character_changed() -> None:
    signed = KEYS.sign("tasks", "42", ALICE)
    tag, key = signed.split(".")
    for position in range(len(key)):
        changed = "b" if key[position] == "a" else "a"
        tampered = f"{tag}.{key[:position]}{changed}{key[position + 1 :]}"
        assert KEYS.check("tasks", tampered, ALICE, TODAY) == KeyRefused()


def test_a_key_with_an_expiry_works_until_its_day_and_then_says_so() -> None:
    signed = KEYS.sign("tasks", "42", ALICE, expires=TODAY)

    assert re.fullmatch(r"42\.[a-z2-7]{14}", signed)
    assert KEYS.check("tasks", signed, ALICE, TODAY) == "42"
    assert KEYS.check("tasks", signed, ALICE, TODAY + timedelta(days=1)) == KeyRefused(expired=True)
    # The expiry is under the MAC: moving it is tampering, not a longer life.
    later = KEYS.sign("tasks", "42", ALICE, expires=TODAY + timedelta(days=9))
    moved = f"42.{later.split('.')[1][:4]}{signed.split('.')[1][4:]}"
    assert KEYS.check("tasks", moved, ALICE, TODAY) == KeyRefused()


def test_a_rotated_secret_keeps_old_keys_working_while_it_is_accepted() -> None:
    old = ReplyKeys([b"o" * 32])
    rotated = ReplyKeys([b"n" * 32, b"o" * 32])
    signed = old.sign("tasks", "42", ALICE)

    assert rotated.check("tasks", signed, ALICE, TODAY) == "42"
    assert rotated.sign("tasks", "42", ALICE) != signed
    assert ReplyKeys([b"n" * 32]).check("tasks", signed, ALICE, TODAY) == KeyRefused()


@pytest.mark.parametrize("tag", ["4 2", "42@x", "über", "a+b", ""])
def test_a_tag_a_reply_address_cannot_carry_is_refused_when_signing(tag: str) -> None:
    with pytest.raises(TagError):
        KEYS.sign("tasks", tag, ALICE)


def test_a_reply_address_stays_within_the_local_part_limit() -> None:
    longest_id = str(2**63 - 1)

    signed = KEYS.sign("tasks", longest_id, ALICE, expires=TODAY)

    assert len(f"tasks+{signed}") <= 64
