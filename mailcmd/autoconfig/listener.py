"""A small HTTP listener that answers mail clients' autoconfig requests, and nothing else.

It reads one bounded request head per connection, answers it and closes: the whole
protocol a client fetching `config-v1.1.xml` needs, with nothing to abuse. Plain
HTTP, because Thunderbird asks `http://autoconfig.<domain>/` when HTTPS fails; put
a TLS proxy in front to offer HTTPS too. Each of mailcmd's domains has a document
of its own: the one a request asks for (see `domain_asked_for`).
"""

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from mailcmd.autoconfig.document import AUTOCONFIG_PATHS
from mailcmd.domains import checked_domain
from mailcmd.listening import bound

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 8192
READ_TIMEOUT = 10.0
MAX_CONNECTIONS = 100


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


class AutoconfigListener:
    """Serves each domain's document at the autoconfig paths on `host:port` once started."""

    def __init__(self, documents: Mapping[str, str], host: str, port: int) -> None:
        """Prepare to serve `documents`, by domain, the default domain's first; nothing
        listens until `start`."""
        self._documents = {
            domain: document.encode("utf-8") for domain, document in documents.items()
        }
        self._domains = tuple(self._documents)
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        """`host:port` as bound (the real port when 0 was asked for)."""
        if self._server is None or not self._server.sockets:
            return f"{self._host}:{self._port}"
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def start(self) -> None:
        """Listen."""
        self._server = await bound(
            "autoconfig",
            self._host,
            self._port,
            asyncio.start_server(self._serve, self._host, self._port),
        )

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            if self._slots.locked():
                await self._respond(writer, "503 Service Unavailable", b"busy\n")
                return
            async with self._slots:
                await self._answer(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled: nothing to answer
        except Exception:  # never a traceback to the client, always one in the log
            log.exception("autoconfig request failed")
        finally:
            self._open.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except asyncio.LimitOverrunError:
            await self._respond(writer, "431 Request Header Fields Too Large", b"too large\n")
            return
        if len(head) > MAX_HEAD_BYTES:
            await self._respond(writer, "431 Request Header Fields Too Large", b"too large\n")
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await self._respond(writer, "400 Bad Request", b"bad request\n")
            return
        method, target, _version = parts
        if method not in ("GET", "HEAD"):
            await self._respond(writer, "405 Method Not Allowed", b"only GET\n", allow=True)
            return
        if urlsplit(target).path not in AUTOCONFIG_PATHS:
            await self._respond(writer, "404 Not Found", b"not found\n")
            return
        document = self._documents[domain_asked_for(target, head, self._domains)]
        await self._respond(
            writer,
            "200 OK",
            document if method == "GET" else b"",
            content_type="text/xml; charset=utf-8",
            length=len(document),
        )

    async def _respond(
        self,
        writer: asyncio.StreamWriter,
        status: str,
        body: bytes,
        *,
        content_type: str = "text/plain; charset=utf-8",
        length: int | None = None,
        allow: bool = False,
    ) -> None:
        headers = [
            f"HTTP/1.1 {status}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body) if length is None else length}",
            "Connection: close",
        ]
        if allow:
            headers.append("Allow: GET, HEAD")
        writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body)
        await writer.drain()
