"""A small HTTP listener that answers mail clients' autoconfig requests, and nothing else.

One bounded request per connection (see `mailcmd.http_listener`): the whole
protocol a client fetching `config-v1.1.xml` needs, with nothing to abuse. Plain
HTTP, because Thunderbird asks `http://autoconfig.<domain>/` when HTTPS fails; put
a TLS proxy in front to offer HTTPS too.
"""

from mailcmd.autoconfig.document import AUTOCONFIG_PATHS
from mailcmd.http_listener import NOT_FOUND, HttpListener, HttpResponse


class AutoconfigListener(HttpListener):
    """Serves `document` at the autoconfig paths on `host:port` once started."""

    def __init__(self, document: str, host: str, port: int) -> None:
        """Prepare to serve `document`; nothing listens until `start`."""
        super().__init__("autoconfig", self._document_at, host, port)
        self._document = HttpResponse(
            "200 OK", document.encode("utf-8"), content_type="text/xml; charset=utf-8"
        )

    async def _document_at(self, path: str) -> HttpResponse:
        return self._document if path in AUTOCONFIG_PATHS else NOT_FOUND
