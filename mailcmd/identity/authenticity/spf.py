"""SPF (RFC 7208): may this client send mail for this domain?

A subset of the RFC, implemented over `TxtResolver` so that it runs offline in
tests: the mechanisms `all`, `ip4`, `ip6`, `a`, `mx`, `include` and `exists`, the
`redirect` modifier, the four qualifiers, and the limits of ten DNS-querying terms
and two lookups that find nothing. Not implemented: macros (a domain-spec with
`%` gives permerror), `ptr` (never matches, as RFC 7208 5.5 lets it), and the
`exp` explanation (ignored).
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from mailcmd.identity.authenticity.resolvers import TemporaryDnsError, TxtResolver, normalise_name

SpfResult = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]

LOOKUP_LIMIT = 10
VOID_LOOKUP_LIMIT = 2

_QUALIFIERS: dict[str, SpfResult] = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_MECHANISM = re.compile(
    r"(?P<qualifier>[-+~?]?)(?P<name>[a-z0-9]+)(?P<argument>[:/].*)?$", re.IGNORECASE
)
_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_MODIFIER = re.compile(r"(?P<name>[a-z][a-z0-9_.-]*)=(?P<value>.*)$", re.IGNORECASE)
_DOMAIN = re.compile(r"([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9_-]+", re.IGNORECASE)

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


# Outside the MailcmdError family: a signal inside this module, turned into a `permerror` result.
class _PermError(Exception):
    """The record is broken or asks for too many lookups; the result is permerror."""


@dataclass
class _Budget:
    lookups: int = 0
    voids: int = 0

    def spend(self) -> None:
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            raise _PermError(f"more than {LOOKUP_LIMIT} DNS-querying terms")

    def found(self, answers: list[str]) -> list[str]:
        if not answers:
            self.voids += 1
            if self.voids > VOID_LOOKUP_LIMIT:
                raise _PermError(f"more than {VOID_LOOKUP_LIMIT} lookups found nothing")
        return answers


def check_host(client_ip: str, domain: str, resolver: TxtResolver) -> SpfResult:
    """Return the SPF result for mail from `domain` sent by `client_ip`.

    `domain` is the MAIL FROM domain, or the HELO name for a null sender. A domain
    that is not a DNS name gives "none"; DNS failures give "temperror", never
    "pass". Raises `ValueError` if `client_ip` is not an IP address.
    """
    address = _client_address(client_ip)
    domain = normalise_name(domain)
    if not _DOMAIN.fullmatch(domain):
        return "none"
    try:
        return _check(address, domain, resolver, _Budget())
    except TemporaryDnsError:
        return "temperror"
    except _PermError:
        return "permerror"


def _client_address(client_ip: str) -> _Address:
    address = ipaddress.ip_address(client_ip.strip().removeprefix("[").removesuffix("]"))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _check(address: _Address, domain: str, resolver: TxtResolver, budget: _Budget) -> SpfResult:
    records = [
        record
        for record in resolver.txt(domain)
        if record.lower() == "v=spf1" or record.lower().startswith("v=spf1 ")
    ]
    if not records:
        return "none"
    if len(records) > 1:
        raise _PermError(f"{domain} publishes {len(records)} SPF records")
    terms = records[0].split()[1:]
    redirect: str | None = None
    mechanisms: list[tuple[SpfResult, str, str]] = []
    for term in terms:
        modifier = _MODIFIER.match(term)
        if modifier:
            if modifier["name"].lower() == "redirect":
                if redirect is not None:
                    raise _PermError(f"{domain}: two redirect modifiers")
                redirect = _domain_spec(modifier["value"], required=True)
            continue
        mechanism = _MECHANISM.match(term)
        if not mechanism or mechanism["name"].lower() not in _MECHANISMS:
            raise _PermError(f"{domain}: cannot read the term {term!r}")
        qualifier = _QUALIFIERS[mechanism["qualifier"] or "+"]
        mechanisms.append((qualifier, mechanism["name"].lower(), mechanism["argument"] or ""))
    # Every term is read before any mechanism is tried, so an unknown term late in
    # the record is a permerror even when an earlier mechanism would have matched.
    for qualifier, name, argument in mechanisms:
        if _matches(address, domain, name, argument, resolver, budget):
            return qualifier
    if redirect is not None:
        budget.spend()
        result = _check(address, redirect, resolver, budget)
        if result == "none":
            raise _PermError(f"{domain} redirects to {redirect}, which has no SPF record")
        return result
    return "neutral"


def _matches(
    address: _Address,
    domain: str,
    name: str,
    argument: str,
    resolver: TxtResolver,
    budget: _Budget,
) -> bool:
    if name == "all":
        if argument:
            raise _PermError("all takes no argument")
        return True
    if name in ("ip4", "ip6"):
        return _in_network(address, name, argument)
    if name == "include":
        budget.spend()
        included = _domain_spec(argument.removeprefix(":"), required=True)
        result = _check(address, included, resolver, budget)
        if result == "none":
            raise _PermError(f"{domain} includes {included}, which has no SPF record")
        return result == "pass"
    if name in ("a", "mx", "exists", "ptr"):
        budget.spend()
        target_text, cidr4, cidr6 = _split_cidr(argument)
        target = _domain_spec(target_text, required=name == "exists") or domain
        if name == "exists":
            return bool(budget.found(resolver.addresses(target)))
        if name == "ptr":
            return False
        hosts = [target] if name == "a" else budget.found(resolver.mx(target))
        if len(hosts) > LOOKUP_LIMIT:
            raise _PermError(f"{target} has more than {LOOKUP_LIMIT} MX hosts")
        for host in hosts:
            for text in budget.found(resolver.addresses(host)):
                if _covers(address, text, cidr4, cidr6):
                    return True
        return False
    raise AssertionError(f"unknown mechanism {name!r} got past parsing")


def _domain_spec(text: str, *, required: bool = False) -> str:
    text = text.removeprefix(":")
    if not text:
        if required:
            raise _PermError("a domain is required")
        return ""
    if "%" in text:
        raise _PermError(f"SPF macros are not supported: {text!r}")
    domain = normalise_name(text)
    if not _DOMAIN.fullmatch(domain):
        raise _PermError(f"not a domain: {text!r}")
    return domain


def _split_cidr(argument: str) -> tuple[str, int, int]:
    target, _, lengths = argument.partition("/")
    cidr4_text, _, cidr6_text = lengths.partition("//")
    if lengths.startswith("/"):
        cidr4_text, cidr6_text = "", lengths[1:]
    cidr4 = _prefix(cidr4_text, 32)
    cidr6 = _prefix(cidr6_text, 128)
    return target, cidr4, cidr6


def _prefix(text: str, maximum: int) -> int:
    if not text:
        return maximum
    if not text.isdigit() or int(text) > maximum:
        raise _PermError(f"bad prefix length {text!r}")
    return int(text)


def _in_network(address: _Address, name: str, argument: str) -> bool:
    if not argument.startswith(":"):
        raise _PermError(f"{name} needs a network")
    try:
        network = ipaddress.ip_network(argument[1:], strict=False)
    except ValueError:
        raise _PermError(f"{name}: not a network: {argument[1:]!r}") from None
    if network.version != (4 if name == "ip4" else 6):
        raise _PermError(f"{name}: wrong address family: {argument[1:]!r}")
    return address.version == network.version and address in network


def _covers(address: _Address, text: str, cidr4: int, cidr6: int) -> bool:
    try:
        published = ipaddress.ip_address(text)
    except ValueError:
        return False
    if published.version != address.version:
        return False
    prefix = cidr4 if published.version == 4 else cidr6
    return address in ipaddress.ip_network(f"{published}/{prefix}", strict=False)
