"""Is an inbound message from whom it says? DKIM, SPF and DMARC, judged without a server.

The receiver calls `evaluate` with the message and its envelope and records
`authentication_results` of the verdict; the lookups go through a `TxtResolver`,
`DnsResolver` on the network or `StaticResolver` from a dictionary.
"""

from mailcmd.identity.authenticity.dmarc import DmarcRecord, Policy, organizational_domain
from mailcmd.identity.authenticity.evaluation import (
    DkimResult,
    DmarcResult,
    SpfScope,
    Verdict,
    authentication_results,
    evaluate,
    without_forged_results,
)
from mailcmd.identity.authenticity.resolvers import (
    DnsResolver,
    NotInMemory,
    StaticResolver,
    TemporaryDnsError,
    TxtResolver,
)
from mailcmd.identity.authenticity.spf import SpfResult, check_host

__all__ = [
    "DkimResult",
    "DmarcRecord",
    "DmarcResult",
    "DnsResolver",
    "NotInMemory",
    "Policy",
    "SpfResult",
    "SpfScope",
    "StaticResolver",
    "TemporaryDnsError",
    "TxtResolver",
    "Verdict",
    "authentication_results",
    "check_host",
    "evaluate",
    "organizational_domain",
    "without_forged_results",
]
