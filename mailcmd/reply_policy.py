"""Whom the worker answers, and how often: no backscatter, one budget per person.

Mail on the MX port names its reply address itself, so a stranger could make
mailcmd mail anyone (backscatter). A reply goes out only when the reply address's
domain vouched for the mail: SPF passed for it, or a DKIM signature of it (or of
its organisation) verified. Budgets count a person, not a spelling: addresses are
normalised, and an account's replies are counted apart from strangers' mail that
merely claims one of its addresses.
"""

from mailcmd.addresses import InvalidAddressError, normalise_address
from mailcmd.authenticity import organizational_domain
from mailcmd.db.models import InboundMessage


def counted_address(address: str) -> str:
    """Return `address` as budgets count it: normalised, or at least lower case and bounded."""
    try:
        return normalise_address(address)
    except InvalidAddressError:
        return address.strip().lower()[:254]


def backscatter_reason(row: InboundMessage, reply_address: str) -> str | None:
    """Return why answering `row` at `reply_address` would be backscatter; None if it would not.

    Mail that did not come on the MX port (a logged-in submission) is always
    answered; so is mail whose DMARC-verified From is the reply address.
    """
    results = row.authentication_results
    if results is None:
        return None
    address = counted_address(reply_address)
    if row.verified_from is not None and address == row.verified_from:
        return None
    domain = address.rpartition("@")[2]
    checks = _passed_checks(results)
    if checks.get("spf") == domain:
        return None
    signer = checks.get("dkim")
    if signer is not None and organizational_domain(signer) == organizational_domain(domain):
        return None
    return (
        f"neither SPF nor a DKIM signature vouched for {domain}, so {address} may not be its sender"
    )


def _passed_checks(results: str) -> dict[str, str]:
    """The domain each passing method vouched for, read from mailcmd's own Authentication-Results.

    `app.example; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=example.org; ...`
    gives `{"dkim": "example.org", "spf": "example.org"}`. SPF for the HELO name
    (`smtp.helo`) vouches for no address.
    """
    passed: dict[str, str] = {}
    for part in results.split(";")[1:]:
        words = part.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        if result != "pass":
            continue
        for word in words[1:]:
            name, _, value = word.partition("=")
            if (method, name) in (("dkim", "header.d"), ("spf", "smtp.mailfrom")):
                passed[method] = value.strip('"').lower()
    return passed
