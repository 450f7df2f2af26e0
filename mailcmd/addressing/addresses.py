"""Mail addresses: checking and normalising the `local@domain` form mailcmd stores and routes."""

import re

from mailcmd.db.models import ADDRESS_LENGTH
from mailcmd.errors import MailcmdError

# The dot-atom local part of RFC 5322 (quoted local parts are legal but are not
# accepted for accounts: no client a person uses needs them, and they invite abuse).
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class InvalidAddressError(MailcmdError, ValueError):
    """The text is not a mail address mailcmd can store."""


class NonAsciiLocalPartError(InvalidAddressError):
    """The address's local part is internationalised (RFC 6531, SMTPUTF8): mailcmd takes
    ASCII local parts only, since a Unicode one has no agreed lower case or normal form
    to match logins, replies and reply keys by, and needs SMTPUTF8 on every hop."""


def normalise_address(text: str) -> str:
    """Return `text` as a lower-case `local@domain` address, or raise `InvalidAddressError`.

    Internationalised domains are stored in their ASCII (IDNA) form.
    """
    address = text.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddressError(f"not a mail address: {text!r} (expected local@domain)")
    if not local.isascii():
        raise NonAsciiLocalPartError(
            f"{text!r} has a non-ASCII local part: mailcmd takes ASCII local parts only"
            " (internationalised domains are fine)"
        )
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise InvalidAddressError(f"not a valid local part in {text!r}")
    ascii_domain = normalise_domain(domain, text)
    normalised = f"{local.lower()}@{ascii_domain}"
    if len(normalised) > ADDRESS_LENGTH:
        raise InvalidAddressError(f"address longer than {ADDRESS_LENGTH} characters: {text!r}")
    return normalised


def normalise_domain(domain: str, context: str | None = None) -> str:
    """Return `domain` lower-cased in ASCII form, or raise `InvalidAddressError`."""
    where = context if context is not None else domain
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidAddressError(f"not a valid domain in {where!r}") from None
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise InvalidAddressError(f"not a valid domain in {where!r}")
    return ascii_domain


def mailbox_name(address: str) -> str:
    """Return the local part of `address` without its plus-tag, lower-cased: what mail to
    it is routed by (`tasks` for `Tasks+42.k7q2@app.example`)."""
    return address.partition("@")[0].partition("+")[0].lower()


def is_address(text: str) -> bool:
    """Tell whether `text` looks like an address (has an `@`) rather than a bare login."""
    return "@" in text
