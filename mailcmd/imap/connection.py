"""One client connection's bytes: whole commands with their literals, under limits."""

import asyncio
import contextlib
import re
import ssl
from dataclasses import dataclass

_LITERAL_AT_END = re.compile(rb"\{(\d{1,12})(\+?)\}\r?\n\Z")
# RFC 7888's LITERAL-: a client may send literals up to this size without waiting.
NON_SYNC_LITERAL_MAX = 4096
READ_CHUNK = 65536


class ConnectionClosed(Exception):
    """The client went away, or the connection must end (the text says why, if anyone)."""


@dataclass(frozen=True)
class Command:
    """A complete command as the client sent it, literals inline, without the last CRLF."""

    data: bytes


@dataclass(frozen=True)
class Refused:
    """A command refused while it was being read: `tag BAD/NO text` goes back."""

    tag: str
    status: str
    text: str


@dataclass(frozen=True)
class Limits:
    """How much a client may send."""

    max_line: int
    max_literal: int
    max_append_literal: int


class Connection:
    """Reads commands and writes responses on one stream, with TLS upgrade."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limits: Limits
    ) -> None:
        """Serve the client on `reader`/`writer` within `limits`."""
        self.reader = reader
        self.writer = writer
        self.limits = limits
        peer = writer.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else "unknown"

    @property
    def encrypted(self) -> bool:
        """Whether the connection runs over TLS."""
        return self.writer.get_extra_info("ssl_object") is not None

    async def write(self, data: bytes) -> None:
        """Send `data` (one or more whole lines)."""
        self.writer.write(data)
        await self.writer.drain()

    async def respond(self, *lines: bytes) -> None:
        """Send each of `lines` with its CRLF."""
        await self.write(b"".join(line + b"\r\n" for line in lines))

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade the connection to TLS as the server side; a failed handshake closes it."""
        try:
            await self.writer.start_tls(context)
        except (ConnectionError, ssl.SSLError, TimeoutError) as error:
            raise ConnectionClosed("TLS handshake failed") from error

    async def read_line(self) -> bytes:
        """Return one line without its line break; over-long lines raise `ConnectionClosed`."""
        line = await self._line()
        if line is None:
            raise ConnectionClosed("line too long")
        return line.rstrip(b"\r\n")

    async def read_command(self) -> Command | Refused:
        """Return the next command, reading its literals (and asking for them) as announced.

        A line over the limit is discarded up to its end and refused, and so is a
        synchronising literal over its limit, before the client sends it; the session
        goes on. A non-synchronising literal over its limit ends the connection,
        since its bytes are already on their way.
        """
        data = b""
        while True:
            line = await self._line()
            if line is None:
                await self._discard_line()
                return Refused(_tag_of(data), "BAD", "command line too long")
            literal = _LITERAL_AT_END.search(line)
            if literal is None:
                # Only the line's own break goes: a literal just before may end in CRLF.
                ending = 2 if line.endswith(b"\r\n") else 1
                return Command(data + line[:-ending])
            data += line
            size, non_sync = int(literal.group(1)), bool(literal.group(2))
            allowed = self._literal_limit(data)
            if size > allowed or len(data) + size > allowed + self.limits.max_line:
                if non_sync:
                    raise ConnectionClosed("literal too large")
                tag = _tag_of(data)
                if allowed == self.limits.max_append_literal:
                    return Refused(tag, "NO", "[TOOBIG] message too large")
                return Refused(tag, "BAD", "literal too large")
            if not non_sync:
                await self.write(b"+ Ready for literal data\r\n")
            try:
                data += await self.reader.readexactly(size)
            except asyncio.IncompleteReadError:
                raise ConnectionClosed("closed in a literal") from None

    def _literal_limit(self, data: bytes) -> int:
        words = data.split(b" ", 3)
        if len(words) > 1 and words[1].upper() == b"APPEND":
            return self.limits.max_append_literal
        return self.limits.max_literal

    async def _line(self) -> bytes | None:
        # The stream's limit (set by the listener) is `max_line`: a longer line
        # overruns it before it is buffered whole.
        try:
            line = await self.reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            return None
        except asyncio.IncompleteReadError as error:
            raise ConnectionClosed("closed") from error
        except (ConnectionError, ssl.SSLError) as error:
            raise ConnectionClosed("connection lost") from error
        return line

    async def _discard_line(self) -> None:
        # The stream's buffer holds at most its limit; the rest of the line is read
        # and dropped, chunk by chunk, under the caller's timeout.
        while True:
            try:
                await self.reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as error:
                await self.reader.readexactly(error.consumed)
            except asyncio.IncompleteReadError as error:
                raise ConnectionClosed("closed") from error

    async def close(self) -> None:
        """Close the connection, without waiting long for a client that does not read."""
        self.writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)


def _tag_of(data: bytes) -> str:
    tag = data.split(b" ", 1)[0].strip()
    if not tag or len(tag) > 64 or not tag.isascii():
        return "*"
    return tag.decode("ascii")
