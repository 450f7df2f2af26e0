"""Which key signs a mail: the one of its From domain, among the domains mailcmd answers for.

A domain without a key has its mail sent unsigned: receivers then judge it by SPF
alone, which works, where holding mail back until a key is made would stop the
domain's replies altogether. A start-up warning names such a domain when another
one signs, since then the missing key is more likely forgotten than not wanted.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from mailcmd.addressing.domains import domain_of
from mailcmd.identity.authors import sole_address
from mailcmd.message.raw_fields import header_fields
from mailcmd.outbound.dkim import DkimSigner, load_signer
from mailcmd.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainSigners:
    """The signer of each of our domains that has a key; immutable, so threads may share it."""

    signers: Mapping[str, DkimSigner]
    # Our domains that have no key, in the settings' order.
    unsigned: tuple[str, ...]

    def sign(self, raw: bytes) -> bytes:
        """Return `raw` signed with the key of its From domain, or as it is if that has none.

        CPU work, as `DkimSigner.sign`: callers on the event loop run it in a thread.
        """
        author = sole_address(header_fields(raw).get("from", []))
        signer = None if author is None else self.signers.get(domain_of(author))
        return raw if signer is None else signer.sign(raw)

    def describe(self) -> list[str]:
        """One start-up line per domain: the key it signs with, or that it signs nothing."""
        if not self.signers:
            return ["DKIM: no key; outgoing mail is not signed (mailcmd dkim keygen)"]
        lines = [f"DKIM: signing as {signer.key.record_name}" for signer in self.signers.values()]
        return lines + [
            f"DKIM: no key for {domain}; its mail is not signed"
            f" (mailcmd dkim keygen --domain {domain})"
            for domain in self.unsigned
        ]


def load_signers(settings: Settings) -> DomainSigners:
    """Load the configured key of each of `settings.domains` that has one.

    Logs a warning for each domain without a key when another has one. Raises
    `DkimError` as `load_signer` does.
    """
    signers: dict[str, DkimSigner] = {}
    unsigned: list[str] = []
    for domain in settings.domains:
        signer = load_signer(settings, domain)
        if signer is None:
            unsigned.append(domain)
        else:
            signers[domain] = signer
    if signers:
        for domain in unsigned:
            log.warning(
                "no DKIM key for %s: its mail is sent unsigned (mailcmd dkim keygen --domain %s)",
                domain,
                domain,
            )
    return DomainSigners(signers, tuple(unsigned))
