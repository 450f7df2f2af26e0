"""A small HTTP listener: one bounded request per connection, answered, then closed.

The whole protocol a client fetching one document needs, with nothing to abuse: a
request head is read up to `MAX_HEAD_BYTES` within a time limit, only GET and HEAD
are answered, at most `MAX_CONNECTIONS` are served at once, and every connection
closes after its answer. The autoconfig document and the metrics are served by it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mailcmd.net.listener_groups import bound

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 8192
READ_TIMEOUT = 10.0
MAX_CONNECTIONS = 100


@dataclass(frozen=True)
class HttpResponse:
    """What a listener answers to one request: its status line (after the version), a body
    and its type."""

    status_line: str
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class HttpRequest:
    """One GET or HEAD request: its target (path and query) and its whole head."""

    target: str
    head: bytes

    @property
    def path(self) -> str:
        """The target without its query."""
        return urlsplit(self.target).path


NOT_FOUND = HttpResponse("404 Not Found", b"not found\n")

# Answers a GET. A HEAD gets the same answer without its body.
Answer = Callable[[HttpRequest], Awaitable[HttpResponse]]


class HttpListener:
    """Answers GET and HEAD requests on `host:port` with `answer`, once started (a `Service`)."""

    def __init__(
        self, name: str, answer: Answer, host: str, port: int, read_timeout: float = READ_TIMEOUT
    ) -> None:
        """Prepare to serve `answer` as the listener `name` (of `LISTENER_PORT_KEYS`);
        nothing listens until `start`. A client has `read_timeout` seconds to send its
        request head."""
        self._name = name
        self._answer_for = answer
        self._host = host
        self._port = port
        self._read_timeout = read_timeout
        self._server: asyncio.Server | None = None
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def name(self) -> str:
        """The listener's name, of `LISTENER_PORT_KEYS`."""
        return self._name

    @property
    def address(self) -> str:
        """`host:port` as bound (the real port when 0 was asked for)."""
        if self._server is None or not self._server.sockets:
            return f"{self._host}:{self._port}"
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    @property
    def serving(self) -> bool:
        """Whether the listener accepts connections (started, not yet stopped)."""
        return self._server is not None and self._server.is_serving()

    def addresses(self) -> dict[str, str]:
        """The listener's name and `address`."""
        return {self._name: self.address}

    def listening(self) -> set[str]:
        """The listener's name while it accepts connections; nothing before or after."""
        return {self._name} if self.serving else set()

    async def start(self) -> None:
        """Listen; `ListenError` (one line, naming the setting) if the address cannot be had."""
        self._server = await bound(
            self._name,
            self._host,
            self._port,
            asyncio.start_server(self._serve, self._host, self._port),
        )

    async def run(self) -> None:
        """Nothing: connections are answered as they come."""

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
                await _respond(writer, HttpResponse("503 Service Unavailable", b"busy\n"))
                return
            async with self._slots:
                await self._answer(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled: nothing to answer
        except Exception:  # never a traceback to the client, always one in the log
            log.exception("%s request failed", self._name)
        finally:
            self._open.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        too_large = HttpResponse("431 Request Header Fields Too Large", b"too large\n")
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._read_timeout)
        except asyncio.LimitOverrunError:
            await _respond(writer, too_large)
            return
        if len(head) > MAX_HEAD_BYTES:
            await _respond(writer, too_large)
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await _respond(writer, HttpResponse("400 Bad Request", b"bad request\n"))
            return
        method, target, _version = parts
        if method not in ("GET", "HEAD"):
            only_get = HttpResponse("405 Method Not Allowed", b"only GET\n")
            await _respond(writer, only_get, allow=True)
            return
        response = await self._answer_for(HttpRequest(target, head))
        await _respond(writer, response, with_body=method == "GET")


async def _respond(
    writer: asyncio.StreamWriter,
    response: HttpResponse,
    *,
    with_body: bool = True,
    allow: bool = False,
) -> None:
    headers = [
        f"HTTP/1.1 {response.status_line}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        "Connection: close",
    ]
    if allow:
        headers.append("Allow: GET, HEAD")
    body = response.body if with_body else b""
    writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body)
    await writer.drain()
