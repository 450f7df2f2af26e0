"""Who a message says wrote it: the addresses of its From and Sender fields, read warily.

Mail is read by several parsers that disagree on odd input: the stdlib's lenient
compat parser (what DKIM and DMARC read here), its strict header registry (what the
worker's message view reads), and whatever mail client shows the message. An author
is trusted only where those readings cannot differ; a claim on a domain is found
wherever any of them could see one.
"""

import email.utils
import re
from collections.abc import Sequence

from mailcmd.addressing.addresses import InvalidAddressError, normalise_address, normalise_domain
from mailcmd.message.headers import POLICY, STRUCTURED_LIMIT

# A domain character, for telling `@app.example` from `@app.example.org` in raw text.
_DOMAIN_CHARACTER = re.compile(r"[A-Za-z0-9.-]")
# An unregistered name parses as unstructured text: only encoded-words are decoded.
_UNSTRUCTURED = "X-Unstructured"


def sole_address(values: Sequence[str]) -> str | None:
    """Return the one address that the header fields `values` (all of one name) name.

    It is normalised as accounts store addresses. None unless there is exactly one
    field, of at most `STRUCTURED_LIMIT` characters, naming exactly one mailbox
    outside any group, which the compat parser and the header registry both read as
    the same valid address. So `alice@x <tasks@x>`, an address in an encoded-word,
    `a@x, b@x` and `team: a@x;` all have none.
    """
    if len(values) != 1 or len(values[0]) > STRUCTURED_LIMIT:
        return None
    value = "".join(values[0].splitlines())
    try:
        header = POLICY.header_factory("From", value)
        groups = header.groups
        strict = [str(mailbox.addr_spec) for group in groups for mailbox in group.addresses]
    except Exception:  # nested comments overflow the recursive parser
        return None
    lenient = [address for _name, address in email.utils.getaddresses([value])]
    in_group = any(group.display_name is not None for group in groups)
    if len(strict) != 1 or lenient != strict or in_group:
        return None
    try:
        return normalise_address(strict[0])
    except InvalidAddressError:
        return None


def names_domain(values: Sequence[str], domain: str) -> bool:
    """Tell whether the header fields `values` name any address at `domain` (an ASCII name).

    Errs towards yes: an `@domain` anywhere in the text counts (in a display name or
    a comment too, and in the first `STRUCTURED_LIMIT` characters once encoded-words
    are decoded), and so does an address at `domain` that either parser reads there,
    such as `alice@(note)domain`. Time is linear in the length of the fields.
    """
    wanted = domain.lower()
    for value in values:
        text = "".join(value[:STRUCTURED_LIMIT].splitlines())
        if (
            _mentions(value.lower(), "@" + wanted)
            or _mentions(_decoded(text).lower(), "@" + wanted)
            or any(_domain_of(address) == wanted for address in _readings(text))
        ):
            return True
    return False


def _mentions(text: str, needle: str) -> bool:
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        while text.startswith(".", end):  # a fully qualified name's root
            end += 1
        if not _DOMAIN_CHARACTER.match(text, end):
            return True
        start = text.find(needle, end)
    return False


def _decoded(value: str) -> str:
    try:
        return str(POLICY.header_factory(_UNSTRUCTURED, value))
    except Exception:  # the stdlib parser has crashed on garbage before
        return value


def _readings(value: str) -> list[str]:
    """Every addr-spec either parser finds in `value`."""
    found = [address for _name, address in email.utils.getaddresses([value])]
    try:
        mailboxes = POLICY.header_factory("From", value).addresses
    except Exception:  # nested comments overflow the recursive parser
        return found
    return found + [str(mailbox.addr_spec) for mailbox in mailboxes]


def _domain_of(address: str) -> str | None:
    domain = address.rpartition("@")[2].strip().rstrip(".")
    try:
        return normalise_domain(domain)
    except InvalidAddressError:
        return domain.lower()
