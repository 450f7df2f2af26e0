"""A small HTTP listener that answers mail clients' autoconfig requests, and nothing else.

One bounded request per connection (see `mailcmd.net.http_listener`): the whole
protocol a client fetching `config-v1.1.xml` needs, with nothing to abuse. Plain
HTTP, because Thunderbird asks `http://autoconfig.<domain>/` when HTTPS fails; put
a TLS proxy in front to offer HTTPS too. Each of mailcmd's domains has a document
of its own: the one a request asks for (see `domain_asked_for`).
"""

from collections.abc import Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from mailcmd.addressing.domains import checked_domain
from mailcmd.net.http_listener import NOT_FOUND, HttpListener, HttpRequest, HttpResponse
from mailcmd.operations.autoconfig.document import AUTOCONFIG_PATHS

# Thunderbird asks `autoconfig.<domain>` first, then the domain itself.
_AUTOCONFIG_HOST_PREFIX = "autoconfig."


def domain_asked_for(target: str, head: bytes, domains: tuple[str, ...]) -> str:
    """The domain of `domains` a request for `target` with header `head` asks about.

    The `emailaddress` query parameter names it (Thunderbird sends the address being
    set up), else the Host (`autoconfig.<domain>` or the domain itself); a request
    that names none of `domains` gets the default's, the first.
    """
    named = [
        address.rpartition("@")[2]
        for address in parse_qs(urlsplit(target).query).get("emailaddress", [])[:1]
    ]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            host = value.decode("latin-1").strip()
            without_port, colon, port = host.rpartition(":")
            if colon and port.isdigit():
                host = without_port
            named.append(host.lower().removeprefix(_AUTOCONFIG_HOST_PREFIX))
            break
    for text in named:
        try:
            domain = checked_domain(text)
        except ValueError:
            continue
        if domain in domains:
            return domain
    return domains[0]


class AutoconfigListener(HttpListener):
    """Serves each domain's document at the autoconfig paths on `host:port` once started."""

    def __init__(self, documents: Callable[[], Mapping[str, str]], host: str, port: int) -> None:
        """Prepare to serve the documents `documents` makes, by domain, the default domain's
        first; they are made, and the listener listens, at `start`."""
        super().__init__("autoconfig", self._document_for, host, port)
        self._make_documents = documents
        self._documents: dict[str, HttpResponse] = {}
        self._domains: tuple[str, ...] = ()

    async def start(self) -> None:
        """Make the documents, then listen."""
        # Made only now: a document names the ports the other listeners just bound,
        # which a port of 0 leaves open until then.
        self._documents = {
            domain: HttpResponse(
                "200 OK", document.encode("utf-8"), content_type="text/xml; charset=utf-8"
            )
            for domain, document in self._make_documents().items()
        }
        self._domains = tuple(self._documents)
        await super().start()

    async def _document_for(self, request: HttpRequest) -> HttpResponse:
        if request.path not in AUTOCONFIG_PATHS:
            return NOT_FOUND
        return self._documents[domain_asked_for(request.target, request.head, self._domains)]
