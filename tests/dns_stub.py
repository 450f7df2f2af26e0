"""A DNS server on loopback that answers from a dictionary, for end-to-end authenticity tests.

It speaks real DNS over UDP, so mailcmd's own resolver (dnspython, through the
`dns_resolver` setting) does real lookups against it. Names it does not know get
NXDOMAIN; names in `failing` get SERVFAIL, as a broken server would answer; names
in `silent`, and names under them, get no answer at all, as from a domain whose
servers never reply.
"""

import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Records = Mapping[str, Mapping[str, Sequence[str]]]
# A TXT record is written as strings of at most 255 bytes each (RFC 1035 3.3.14).
TXT_STRING = 255


class DnsStub:
    """Answers A, AAAA, MX and TXT queries from `records` (as `StaticResolver` takes them)."""

    def __init__(
        self, records: Records, failing: Sequence[str] = (), silent: Sequence[str] = ()
    ) -> None:
        self.records = {
            _key(name): {kind.upper(): list(values) for kind, values in types.items()}
            for name, types in records.items()
        }
        self.failing = {_key(name) for name in failing}
        self.silent = {_key(name) for name in silent}
        self.queries: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, as the `dns_resolver` setting takes it."""
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, client = self._socket.recvfrom(65535)
            except TimeoutError:
                continue
            answer = self._answer(wire)
            if answer is not None:
                self._socket.sendto(answer, client)

    def _answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = _key(question.name.to_text())
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        if any(name == quiet or name.endswith(f".{quiet}") for quiet in self.silent):
            return None
        if name in self.failing:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            values = [_rdata_text(kind, value) for value in self.records[name].get(kind, [])]
            if values:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, kind, values)
                )
        return response.to_wire()


@contextmanager
def dns_stub(
    records: Records, failing: Sequence[str] = (), silent: Sequence[str] = ()
) -> Iterator[DnsStub]:
    """Run a `DnsStub` for the block."""
    stub = DnsStub(records, failing, silent)
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()


def _key(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _rdata_text(kind: str, value: str) -> str:
    if kind == "TXT":
        chunks = [value[i : i + TXT_STRING] for i in range(0, len(value), TXT_STRING)] or [""]
        return " ".join(
            '"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks
        )
    if kind == "MX" and " " not in value:
        return f"10 {value.rstrip('.')}."
    return value
