"""The verdict on one inbound message: DKIM, SPF and DMARC, and its Authentication-Results.

`evaluate` does DNS lookups through the resolver it is given and RSA or Ed25519
verification in pure Python, so callers on the event loop run it in a thread.
Nothing here trusts the message: every domain it reports has been checked to be
a DNS name, and `authentication_results` quotes whatever is not a plain token.
"""

import email.utils
import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from mailcmd.addressing.addresses import InvalidAddressError, normalise_address
from mailcmd.identity.authenticity.dmarc import Policy, aligned, find_record
from mailcmd.identity.authenticity.resolvers import TemporaryDnsError, TxtResolver, normalise_name
from mailcmd.identity.authenticity.spf import SpfResult, check_host
from mailcmd.identity.authors import sole_address
from mailcmd.message.raw_fields import drop_fields, header_fields, header_length
from mailcmd.outbound import dkim

DkimResult = Literal["pass", "fail", "none", "temperror"]
DmarcResult = Literal["pass", "fail", "none", "temperror"]
SpfScope = Literal["mailfrom", "helo"]

_DOMAIN = re.compile(r"([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}")
# RFC 2045 token: printable ASCII without spaces or tspecials.
_TOKEN = re.compile(r"[!#$%&'*+.0-9A-Z^_`a-z{|}~-]+")


@dataclass(frozen=True)
class Verdict:
    """What DKIM, SPF and DMARC say about one message; immutable.

    `aligned` is whether the From domain is authentic: a passing DKIM signature
    or SPF check for a domain aligned with it (relaxed, or strict where the
    domain's DMARC record asks). It does not need a published DMARC record, so a
    receiver can hold mail claiming to be from its own domains to it. `dmarc` is
    what RFC 7489 reports: "none" without a record, else "pass" exactly when
    `aligned`; "temperror" (and `aligned` false) when the record could not be
    looked up now.
    """

    dkim: DkimResult
    """The topmost DKIM-Signature's result; "none" when there is no signature."""
    dkim_domain: str | None
    """The `d=` domain of the signature when `dkim` is "pass", else None."""
    spf: SpfResult
    spf_domain: str | None
    """The domain SPF checked: the MAIL FROM domain, or the HELO name for a null sender."""
    spf_scope: SpfScope
    dmarc: DmarcResult
    dmarc_policy: Policy | None
    """The policy the From domain publishes (`p=`, or `sp=` for a subdomain), if any."""
    from_domain: str | None
    """The domain of the single From address; None if there is not exactly one such domain."""
    from_address: str | None
    """The single From address, normalised; None unless there is exactly one, read alike
    by every parser (see `mailcmd.identity.authors.sole_address`)."""
    aligned: bool
    verified_from: str | None
    """`from_address` when it is proved to be the author's, else None.

    Proved means a DKIM signature aligned with its domain, or an SPF pass for an
    envelope sender that is this very address (by `normalise_address`). An SPF pass
    for another sender at the same domain proves only the domain: anyone who may
    send mail through that domain's servers could have written it.
    """


def evaluate(
    raw: bytes | bytearray, client_ip: str, helo: str, mail_from: str, resolver: TxtResolver
) -> Verdict:
    """Return the verdict on message `raw`, received from `client_ip` after HELO `helo`.

    `mail_from` is the envelope sender, "" (or "<>") for a null sender. Temporary
    DNS failures give "temperror" results and never a pass. Raises `ValueError`
    if `client_ip` is not an IP address.
    """
    ipaddress.ip_address(client_ip.strip().removeprefix("[").removesuffix("]"))
    headers = header_fields(raw)
    dkim_result, dkim_domain = _dkim(raw, headers, resolver)

    sender = mail_from.strip().removeprefix("<").removesuffix(">")
    scope: SpfScope = "mailfrom" if sender else "helo"
    spf_domain = _domain(sender.rpartition("@")[2] if sender else helo)
    spf_result: SpfResult = "none"
    if spf_domain is not None:
        spf_result = check_host(client_ip, spf_domain, resolver)

    from_address, from_domain = _author(headers)
    # Only passing results count towards alignment.
    dkim_passed = dkim_domain if dkim_result == "pass" else None
    spf_passed = spf_domain if spf_result == "pass" else None
    dmarc_result, policy, dkim_aligned, spf_aligned = _dmarc(
        from_domain, dkim_passed, spf_passed, resolver
    )
    # DMARC proves the domain, not the person: SPF vouches only for the envelope
    # sender, so with SPF alone the From address must be that sender.
    verified_from = (
        from_address
        if dkim_aligned or (spf_aligned and _normalised(sender) == from_address)
        else None
    )
    return Verdict(
        dkim=dkim_result,
        dkim_domain=dkim_domain,
        spf=spf_result,
        spf_domain=spf_domain,
        spf_scope=scope,
        dmarc=dmarc_result,
        dmarc_policy=policy,
        from_domain=from_domain,
        from_address=from_address,
        aligned=dkim_aligned or spf_aligned,
        verified_from=verified_from,
    )


def authentication_results(verdict: Verdict, authserv_id: str) -> str:
    """Return the value of an Authentication-Results header field (RFC 8601) for `verdict`.

    For example `app.example; dkim=pass header.d=example.org; spf=pass
    smtp.mailfrom=example.org; dmarc=pass header.from=example.org`, on one line.
    """
    dkim_part = f"dkim={verdict.dkim}"
    if verdict.dkim_domain is not None:
        dkim_part += f" header.d={_value(verdict.dkim_domain)}"
    spf_part = f"spf={verdict.spf}"
    if verdict.spf_domain is not None:
        spf_part += f" smtp.{verdict.spf_scope}={_value(verdict.spf_domain)}"
    dmarc_part = f"dmarc={verdict.dmarc}"
    if verdict.from_domain is not None:
        dmarc_part += f" header.from={_value(verdict.from_domain)}"
    return "; ".join([_value(authserv_id), dkim_part, spf_part, dmarc_part])


def _dkim(
    raw: bytes | bytearray, headers: dict[str, list[str]], resolver: TxtResolver
) -> tuple[DkimResult, str | None]:
    signatures = headers.get("dkim-signature", [])
    if not signatures:
        return "none", None
    # mailcmd.outbound.dkim.verify checks the topmost signature, so its d= is the one to report.
    signing_domain = _domain(_tags(signatures[0]).get("d", ""))

    def dns_txt(name: bytes) -> bytes | None:
        keys = [record for record in resolver.txt(name.decode("ascii", "replace")) if record]
        return keys[0].encode("utf-8") if keys else None

    try:
        valid = dkim.verify(raw, dns_txt)
    except TemporaryDnsError:
        return "temperror", None
    if valid and signing_domain is not None:
        return "pass", signing_domain
    return "fail", None


def _dmarc(
    from_domain: str | None,
    dkim_domain: str | None,
    spf_domain: str | None,
    resolver: TxtResolver,
) -> tuple[DmarcResult, Policy | None, bool, bool]:
    """DMARC's result and policy, and whether the DKIM and the SPF domain each align."""
    if from_domain is None:
        return "fail", None, False, False
    try:
        record = find_record(from_domain, resolver)
    except TemporaryDnsError:
        # Without the record its adkim= and aspf= are unknown, so nothing is aligned.
        return "temperror", None, False, False
    dkim_aligned = dkim_domain is not None and aligned(
        from_domain, dkim_domain, strict=record is not None and record.strict_dkim
    )
    spf_aligned = spf_domain is not None and aligned(
        from_domain, spf_domain, strict=record is not None and record.strict_spf
    )
    if record is None:
        return "none", None, dkim_aligned, spf_aligned
    is_aligned = dkim_aligned or spf_aligned
    return ("pass" if is_aligned else "fail"), record.policy, dkim_aligned, spf_aligned


def _tags(value: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in value.split(";"):
        name, equals, text = part.partition("=")
        if equals:
            tags.setdefault(name.strip().lower(), re.sub(r"\s+", "", text))
    return tags


def _author(headers: dict[str, list[str]]) -> tuple[str | None, str | None]:
    """The From address (normalised) and the From domain; each None unless there is one."""
    fields = headers.get("from", [])
    # RFC 7489 6.6.1: a message with several From fields, or several authors from
    # different domains, has no one domain to judge it by.
    if len(fields) != 1:
        return None, None
    addresses = email.utils.getaddresses([fields[0]])
    domains = {_domain(address.rpartition("@")[2]) for _name, address in addresses if address}
    domain = domains.pop() if len(domains) == 1 else None
    # The address only where every reader of the field sees the same one.
    return (sole_address(fields) if domain is not None else None), domain


def _normalised(address: str) -> str | None:
    try:
        return normalise_address(address)
    except InvalidAddressError:
        return None


def _domain(text: str) -> str | None:
    try:
        name = normalise_name(text).encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return name if _DOMAIN.fullmatch(name) else None


def _value(text: str) -> str:
    if _TOKEN.fullmatch(text):
        return text
    cleaned = "".join(char for char in text if char.isprintable())
    escaped = cleaned.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def without_forged_results(message: bytearray, authserv_id: str) -> None:
    """Remove, in place, Authentication-Results fields that claim to come from `authserv_id`.

    Only this server may speak for itself (RFC 8601 section 5): a sender's copy of
    such a field would otherwise pass for this server's verdict. Only the header is
    copied; the body stays where it is.
    """
    prefix = authserv_id.lower().encode()

    def claims_to_be_ours(line: bytes) -> bool:
        name, colon, value = line.partition(b":")
        return (
            bool(colon)
            and name.strip().lower() == b"authentication-results"
            and value.strip().lower().split(b";")[0].strip() == prefix
        )

    end = header_length(message)
    message[:end] = drop_fields(bytes(memoryview(message)[:end]), claims_to_be_ours)
