"""DMARC (RFC 7489): the From domain's published policy and relaxed or strict alignment.

Organizational domains are found without the Public Suffix List: they are the
last two labels of a name, or the last three when the last two form one of the
common public suffixes in `TWO_LABEL_SUFFIXES` (such as co.uk or com.au). This is
a simplification: under a suffix not listed, two domains of different owners
(such as a.example.pvt.k12.ma.us and b.example.pvt.k12.ma.us) would count as one.
"""

from dataclasses import dataclass
from typing import Literal

from mailcmd.identity.authenticity.resolvers import TxtResolver, normalise_name

Policy = Literal["none", "quarantine", "reject"]

TWO_LABEL_SUFFIXES = frozenset(
    {
        *(f"{second}.uk" for second in ("co", "org", "me", "ltd", "plc", "net", "ac", "gov")),
        *(f"{second}.au" for second in ("com", "net", "org", "edu", "gov", "asn", "id")),
        *(f"{second}.nz" for second in ("co", "net", "org", "ac", "govt", "school")),
        *(f"{second}.jp" for second in ("co", "ne", "or", "ac", "go")),
        *(f"{second}.za" for second in ("co", "org", "net", "ac", "gov")),
        *(f"{second}.br" for second in ("com", "net", "org", "gov", "edu")),
        *(f"{second}.in" for second in ("co", "net", "org", "ac", "gov")),
        *(f"{second}.cn" for second in ("com", "net", "org", "gov", "edu")),
        *(f"{second}.kr" for second in ("co", "or", "ac", "go", "ne")),
        *(f"{second}.il" for second in ("co", "org", "ac", "gov", "net")),
        *(f"{second}.mx" for second in ("com", "org", "gob", "edu", "net")),
        *(f"{second}.tr" for second in ("com", "org", "net", "gov", "edu")),
        *(f"{second}.sg" for second in ("com", "org", "net", "gov", "edu")),
        *(f"{second}.hk" for second in ("com", "org", "net", "gov", "edu")),
        *(f"{second}.tw" for second in ("com", "org", "net", "gov", "edu")),
        *(f"{second}.ar" for second in ("com", "org", "net", "gob", "edu")),
    }
)


@dataclass(frozen=True)
class DmarcRecord:
    """What a `v=DMARC1` record asks of receivers, as far as mailcmd reads it."""

    policy: Policy
    """`p=`, or `sp=` when the record is the organizational domain's and From is a subdomain."""
    strict_dkim: bool
    """`adkim=s`: the DKIM d= must equal the From domain, not only share its organization."""
    strict_spf: bool
    """`aspf=s`: likewise for the SPF domain."""


def organizational_domain(domain: str) -> str:
    """Return the registrable part of `domain` under the simplification the module describes."""
    labels = normalise_name(domain).split(".")
    keep = 3 if ".".join(labels[-2:]) in TWO_LABEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def aligned(from_domain: str, other: str, *, strict: bool = False) -> bool:
    """Return whether `other` (a DKIM d= or SPF domain) is aligned with `from_domain`."""
    from_domain, other = normalise_name(from_domain), normalise_name(other)
    if strict:
        return from_domain == other
    return organizational_domain(from_domain) == organizational_domain(other)


def find_record(from_domain: str, resolver: TxtResolver) -> DmarcRecord | None:
    """Return the DMARC record for mail from `from_domain`, or None if none is published.

    Looks at `_dmarc.<from_domain>`, then at `_dmarc.<organizational domain>`.
    Raises `TemporaryDnsError` if a lookup fails for now.
    """
    from_domain = normalise_name(from_domain)
    organization = organizational_domain(from_domain)
    tags = _record_tags(resolver.txt(f"_dmarc.{from_domain}"))
    inherited = False
    if tags is None and organization != from_domain:
        tags = _record_tags(resolver.txt(f"_dmarc.{organization}"))
        inherited = True
    if tags is None:
        return None
    policy = _policy(tags.get("p"))
    if inherited and "sp" in tags:
        policy = _policy(tags["sp"])
    return DmarcRecord(
        policy=policy,
        strict_dkim=tags.get("adkim", "r").lower() == "s",
        strict_spf=tags.get("aspf", "r").lower() == "s",
    )


def _record_tags(records: list[str]) -> dict[str, str] | None:
    found = [
        record
        for record in records
        if record.replace(" ", "").replace("\t", "").lower().startswith("v=dmarc1")
    ]
    # RFC 7489 6.6.3: several records, like none, mean no DMARC for the domain.
    if len(found) != 1:
        return None
    tags: dict[str, str] = {}
    for part in found[0].split(";"):
        name, equals, value = part.partition("=")
        if equals:
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def _policy(text: str | None) -> Policy:
    value = (text or "").lower()
    if value == "quarantine":
        return "quarantine"
    if value == "reject":
        return "reject"
    # A missing or unreadable p= is treated as "none", the weakest request.
    return "none"
