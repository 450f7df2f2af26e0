"""Signed reply keys: the tag of a reply address (`tasks+42.k7q2mxab3d@`) with a keyed MAC.

A reply address is a button: whoever holds it can act on the object it names. The
MAC binds the mailbox, the tag and the holder (the account the mail was sent to, or
for a stranger the address) under a secret only this installation knows, so that an
address cannot be guessed, altered, or used by anyone it was not sent to. Keys may
carry an expiry day, which the MAC covers too.

The form is `TAG.KEY`: KEY is 10 characters of lower-case base32 (50 bits of MAC), or
14 with an expiry day in front; both survive servers that lower-case local parts and
clients that mangle anything but letters, digits, `.`, `-` and `_`.
"""

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, timedelta

from mailcmd.errors import MailcmdError

MAC_CHARACTERS = 10
EXPIRY_CHARACTERS = 4
# How many recently signed keys are remembered: a few per message a worker runs, and
# one per object an app folder shows, signed again at each sync of the folder (a
# dozen accounts' folders of 500 stay signed).
_SIGNED_KEPT = 8192
# Day 0 of the expiry field; four base32 characters reach well past 4000.
_EPOCH = date(2020, 1, 1)
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_KEY = re.compile(rf"[a-z2-7]{{{MAC_CHARACTERS}}}|[a-z2-7]{{{MAC_CHARACTERS + EXPIRY_CHARACTERS}}}")
# What a tag may be made of: whatever a local part carries safely everywhere.
_TAG = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


class TagError(MailcmdError, ValueError):
    """A tag that cannot travel in a reply address."""


@dataclass(frozen=True)
class KeyRefused:
    """A reply address that does not act for its sender; `expired` only when otherwise good."""

    expired: bool = False


def account_holder(account_id: int) -> str:
    """The holder a key is bound to for mail sent to an account."""
    return f"account:{account_id}"


def address_holder(address: str) -> str:
    """The holder a key is bound to for mail sent to an address of no account."""
    return f"address:{address.lower()}"


class ReplyKeys:
    """Signs tags for reply addresses and checks them, with the current secret and the
    older ones still accepted."""

    def __init__(self, secrets: list[bytes]) -> None:
        """Sign with `secrets[0]`; accept a MAC made with any of `secrets`."""
        if not secrets:
            raise ValueError("reply keys need at least one secret")
        self._secrets = list(secrets)
        # One mail signs the same key for its Reply-To and for each of its action
        # links, and the mails of one message mostly share it: the MAC is made once.
        self._signed = functools.lru_cache(maxsize=_SIGNED_KEPT)(self._sign)

    def sign(self, mailbox: str, tag: str, holder: str, expires: date | None = None) -> str:
        """Return `TAG.KEY` for a reply address of `mailbox` that only `holder` may use.

        Raises `TagError` for a tag that a reply address cannot carry.
        """
        return self._signed(mailbox, tag, holder, expires)

    def _sign(self, mailbox: str, tag: str, holder: str, expires: date | None) -> str:
        plain = tag.lower()
        if not _TAG.fullmatch(plain):
            raise TagError(f"{tag!r} cannot be the tag of a reply address (letters, digits, -, _)")
        expiry = "" if expires is None else _day_code(expires)
        return f"{plain}.{expiry}{self._mac(self._secrets[0], mailbox, plain, holder, expiry)}"

    def check(self, mailbox: str, signed: str, holder: str, today: date) -> str | KeyRefused:
        """Return the plain tag of `signed` if it is `holder`'s key for `mailbox`, valid
        `today`; else `KeyRefused`.

        A bare tag, a key of another mailbox or holder, a tampered or malformed key are
        all refused alike, and cost the same: the answer depends on the MAC alone, never
        on whether the object the tag names exists.
        """
        tag, dot, key = signed.lower().rpartition(".")
        if not dot or not _KEY.fullmatch(key) or not _TAG.fullmatch(tag):
            return KeyRefused()
        expiry, mac = key[:-MAC_CHARACTERS], key[-MAC_CHARACTERS:]
        if not any(
            hmac.compare_digest(mac, self._mac(secret, mailbox, tag, holder, expiry))
            for secret in self._secrets
        ):
            return KeyRefused()
        if expiry and _day_of(expiry) < today:
            return KeyRefused(expired=True)
        return tag

    @staticmethod
    def _mac(secret: bytes, mailbox: str, tag: str, holder: str, expiry: str) -> str:
        message = "\n".join((mailbox.lower(), tag, holder, expiry)).encode()
        digest = hmac.new(secret, message, hashlib.sha256).digest()
        return base64.b32encode(digest).decode("ascii").lower()[:MAC_CHARACTERS]


def _day_code(day: date) -> str:
    number = (day - _EPOCH).days
    if not 0 <= number < len(_BASE32) ** EXPIRY_CHARACTERS:
        raise TagError(f"an expiry on {day} is out of range")
    digits = []
    for _ in range(EXPIRY_CHARACTERS):
        number, digit = divmod(number, len(_BASE32))
        digits.append(_BASE32[digit])
    return "".join(reversed(digits))


def _day_of(code: str) -> date:
    number = 0
    for character in code:
        number = number * len(_BASE32) + _BASE32.index(character)
    return _EPOCH + timedelta(days=number)
