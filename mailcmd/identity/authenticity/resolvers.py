"""DNS lookups for authenticity checks: one protocol, a real resolver and an in-memory one.

The only module of `mailcmd.identity.authenticity` that imports dnspython. Every lookup
tells a name that does not exist (an empty list) from one that could not be
looked up now (`TemporaryDnsError`), because SPF, DKIM and DMARC must answer
"try later" for the second and never "pass".
"""

import copy
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import dns.exception
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.TXT
import dns.resolver

from mailcmd.settings import parse_nameserver

DEFAULT_TIMEOUT = 5.0
# Answers kept (each for its TTL): a busy MX sees the same senders' domains again and
# again. Each holds its whole DNS response, a few kilobytes, so the cache stays small.
DEFAULT_CACHE_SIZE = 2_000


# Outside the MailcmdError family: a signal, which the checks turn into a `temperror` result.
class TemporaryDnsError(Exception):
    """A lookup timed out or the servers failed (SERVFAIL); the answer may exist."""


# Outside the MailcmdError family: a signal to take the slow path, never an error.
class NotInMemory(Exception):
    """A lookup asked of `from_memory()` that would have to wait for the network."""


class TxtResolver(Protocol):
    """The lookups SPF, DKIM and DMARC need; each returns [] for a name or type that is absent."""

    def txt(self, name: str) -> list[str]:
        """Return the TXT records at `name`, each one's strings joined into one."""
        ...

    def addresses(self, name: str) -> list[str]:
        """Return the A and AAAA addresses of `name` as text."""
        ...

    def mx(self, name: str) -> list[str]:
        """Return the exchange host names of `name`'s MX records, most preferred first."""
        ...

    def from_memory(self) -> "TxtResolver":
        """The same lookups, answered only from memory: any other raises `NotInMemory`.

        Such a resolver never blocks, so its caller may use it on the event loop.
        """
        ...

    def until(self, deadline: float) -> "TxtResolver":
        """The same lookups, none lasting past `deadline` (a `time.monotonic()` value).

        A lookup that would has `TemporaryDnsError` instead, so a message's checks
        end by its deadline however slow the sender's DNS is.
        """
        ...


def normalise_name(name: str) -> str:
    """Return `name` lowercased and without a final dot, as the resolvers key it."""
    return name.strip().rstrip(".").lower()


class DnsResolver:
    """Looks names up over the network with dnspython.

    `nameserver` is the address of the server to ask, with an optional port (the
    `dns_resolver` setting, see `parse_nameserver`); None asks the servers the
    system is configured with. `timeout` bounds each
    lookup as a whole, retries included, in seconds.
    """

    def __init__(
        self,
        nameserver: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._resolver = dns.resolver.Resolver(configure=nameserver is None)
        if nameserver is not None:
            host, port = parse_nameserver(nameserver)
            self._resolver.nameservers = [host]
            self._resolver.port = port
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        # Answers, NXDOMAIN included, are remembered for their TTL.
        self._resolver.cache = dns.resolver.LRUCache(cache_size)
        self._memory_only = False
        self._deadline: float | None = None

    def from_memory(self) -> "DnsResolver":
        """This resolver answering from its cache of unexpired answers only (see `TxtResolver`)."""
        view = copy.copy(self)
        view._memory_only = True
        return view

    def until(self, deadline: float) -> "DnsResolver":
        """This resolver with every lookup cut short at `deadline` (see `TxtResolver`)."""
        view = copy.copy(self)
        view._deadline = deadline
        return view

    def txt(self, name: str) -> list[str]:
        """Return the TXT records at `name`; raise `TemporaryDnsError` if none can be had now."""
        records: list[str] = []
        for rdata in self._query(name, dns.rdatatype.TXT):
            if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
                records.append(b"".join(rdata.strings).decode("utf-8", errors="replace"))
        return records

    def addresses(self, name: str) -> list[str]:
        """Return the A and AAAA addresses of `name`; raise `TemporaryDnsError` likewise."""
        found = [rdata.to_text() for rdata in self._query(name, dns.rdatatype.A)]
        found += [rdata.to_text() for rdata in self._query(name, dns.rdatatype.AAAA)]
        return found

    def mx(self, name: str) -> list[str]:
        """Return the MX host names of `name`, most preferred first; raise likewise."""
        answers = sorted(
            (rdata.preference, normalise_name(rdata.exchange.to_text()))
            for rdata in self._query(name, dns.rdatatype.MX)
            if isinstance(rdata, dns.rdtypes.ANY.MX.MX)
        )
        return [exchange for _preference, exchange in answers]

    def _query(self, name: str, rdtype: dns.rdatatype.RdataType) -> list[dns.rdata.Rdata]:
        try:
            qname = dns.name.from_text(normalise_name(name) or ".")
            if self._memory_only:
                return self._remembered(qname, rdtype)
            answer = self._resolver.resolve(qname, rdtype, search=False, lifetime=self._lifetime())
        except (
            dns.resolver.NXDOMAIN,
            dns.resolver.NoAnswer,
            dns.resolver.YXDOMAIN,
            # A name that cannot be written in the DNS cannot exist there.
            dns.name.NameTooLong,
            dns.name.LabelTooLong,
            dns.name.EmptyLabel,
        ):
            return []
        except dns.exception.DNSException as error:
            # Timeouts, SERVFAIL from every server, and anything else the resolver
            # could not settle: the record may exist, so the caller must try later.
            raise TemporaryDnsError(f"{rdtype.name} lookup of {name} failed: {error}") from error
        return list(answer)

    def _lifetime(self) -> float:
        if self._deadline is None:
            return self._resolver.lifetime
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TemporaryDnsError("the time for this message's lookups is up")
        return min(remaining, self._resolver.lifetime)

    def _remembered(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> list[Any]:
        # Where dnspython's resolver itself would look first, in the same way.
        cache = self._resolver.cache
        assert cache is not None
        answer = cache.get((qname, rdtype, dns.rdataclass.IN))
        if answer is not None:
            return list(answer.rrset) if answer.rrset is not None else []
        absent = cache.get((qname, dns.rdatatype.ANY, dns.rdataclass.IN))
        if absent is not None and absent.response.rcode() == dns.rcode.NXDOMAIN:
            return []
        raise NotInMemory(f"{rdtype.name} {qname} is not in memory")


class StaticResolver:
    """Answers from a dictionary, for tests and for working offline.

    `records` maps a name to its records by type, as in
    `{"example.org": {"TXT": ["v=spf1 -all"], "A": ["192.0.2.1"], "MX": ["mx.example.org"]}}`
    (types are "TXT", "A", "AAAA" and "MX"; MX hosts are listed most preferred
    first). Names are matched without case or a final dot. Every lookup of a
    name in `failing` raises `TemporaryDnsError`, as a timeout would.
    """

    def __init__(
        self,
        records: Mapping[str, Mapping[str, Sequence[str]]],
        *,
        failing: Iterable[str] = (),
    ) -> None:
        self._records = {
            normalise_name(name): {kind.upper(): list(values) for kind, values in types.items()}
            for name, types in records.items()
        }
        self._failing = frozenset(normalise_name(name) for name in failing)

    def txt(self, name: str) -> list[str]:
        """Return the TXT records listed for `name`."""
        return self._lookup(name, "TXT")

    def addresses(self, name: str) -> list[str]:
        """Return the A and then the AAAA records listed for `name`."""
        return self._lookup(name, "A") + self._lookup(name, "AAAA")

    def mx(self, name: str) -> list[str]:
        """Return the MX hosts listed for `name`, lowercased and without a final dot."""
        return [normalise_name(host) for host in self._lookup(name, "MX")]

    def from_memory(self) -> "StaticResolver":
        """This resolver: its answers are all in memory."""
        return self

    def until(self, deadline: float) -> "StaticResolver":
        """This resolver: its answers never wait."""
        return self

    def _lookup(self, name: str, kind: str) -> list[str]:
        key = normalise_name(name)
        if key in self._failing:
            raise TemporaryDnsError(f"{kind} lookup of {name} timed out (static failure)")
        return list(self._records.get(key, {}).get(kind, []))
