"""One client connection's bytes: whole commands with their literals, under limits."""

import asyncio
import contextlib
import re
import ssl
from dataclasses import dataclass

_LITERAL_AT_END = re.compile(rb"\{(\d{1,12})(\+?)\}\r?\n\Z")
# RFC 7888's LITERAL-: a client may send literals up to this size without waiting.
NON_SYNC_LITERAL_MAX = 4096
# The goodbye to a client whose literal was too large to wait for.
TOO_BIG_BYE = b"* BYE [TOOBIG] Literal too large"
# The goodbye to a client whose literal fell behind the minimum rate.
SLOW_LITERAL_BYE = b"* BYE Literal data arrived too slowly"
CONTINUE = b"+ Ready for literal data"


# Outside the MailcmdError family: the end of a conversation, which the command loop expects.
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
    condition: str  # BAD or NO
    text: str


@dataclass(frozen=True)
class Limits:
    """How much a client may send, and how fast its literals must arrive."""

    max_line: int
    max_literal: int
    max_append_literal: int
    # A literal may lag this many seconds behind `literal_min_rate` bytes per second.
    literal_timeout: float
    literal_min_rate: int


class LiteralBudget:
    """The bytes of literals that every connection together may hold at once.

    A synchronising literal is reserved before the client is asked for it and
    refused when the budget is spent, so that many clients appending at once wait
    their turn instead of filling the server's memory; the reservation lasts until
    the connection reads its next command (the command has run by then), or ends,
    which a literal that arrives too slowly makes it do.
    """

    def __init__(self, total: int) -> None:
        """Allow `total` bytes of literals in flight."""
        self.total = total
        self.in_use = 0

    def reserve(self, size: int) -> bool:
        """Take `size` bytes if they are free; whether they were."""
        if self.in_use + size > self.total:
            return False
        self.in_use += size
        return True

    def force(self, size: int) -> None:
        """Take `size` bytes already on their way (a non-synchronising literal, small)."""
        self.in_use += size

    def release(self, size: int) -> None:
        """Give back `size` bytes taken before."""
        self.in_use -= size


class Connection:
    """Reads commands and writes responses on one stream, with TLS upgrade."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        limits: Limits,
        budget: LiteralBudget,
    ) -> None:
        """Serve the client on `reader`/`writer` within `limits`, its literals within `budget`."""
        self.reader = reader
        self.writer = writer
        self.limits = limits
        self.budget = budget
        # Before login a command, literals included, is no longer than a command line:
        # a stranger cannot make the server hold a message's worth of bytes.
        self.logged_in = False
        self._reserved = 0
        peer = writer.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else "unknown"

    @property
    def encrypted(self) -> bool:
        """Whether the connection runs over TLS."""
        return self.writer.get_extra_info("ssl_object") is not None

    async def write(self, data: bytes) -> None:
        """Send `data` (one or more whole lines); a client that stops reading is let go.

        The client must take the data at the pace a literal must arrive at
        (`literal_min_rate`, with `literal_timeout` to spare); otherwise the
        connection is dropped with what it had not read, which frees its memory.
        """
        self.writer.write(data)
        seconds = self.limits.literal_timeout + len(data) / self.limits.literal_min_rate
        try:
            async with asyncio.timeout(seconds):
                await self.writer.drain()
        except TimeoutError:
            self.writer.transport.abort()
            raise ConnectionClosed("the client stopped reading") from None

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
        synchronising literal over its limit or over the shared budget, before the
        client sends it; the session goes on. A non-synchronising literal over its
        limit (4096 bytes, RFC 7888's LITERAL-) ends the connection, since its bytes
        are already on their way, and so does a literal that falls more than
        `literal_timeout` seconds behind `literal_min_rate`.
        """
        self._release()
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
            appending = self.logged_in and _is_append(data)
            too_big = size > self._literal_limit(appending)
            too_big |= len(data) + size > self._command_limit(appending)
            if too_big or (non_sync and size > NON_SYNC_LITERAL_MAX):
                return await self._refuse(data, non_sync, appending)
            if non_sync:
                self.budget.force(size)
            elif not self.budget.reserve(size):
                return Refused(_tag_of(data), "NO", "[UNAVAILABLE] server busy, try again later")
            self._reserved += size
            data += await self._receive_literal(size, ask=not non_sync)

    async def _receive_literal(self, size: int, ask: bool) -> bytearray:
        # Postfix's smtpd_min_data_rate, for one literal: the bytes that arrive buy
        # time at the minimum rate but never more than `literal_timeout` ahead, so a
        # slow line may take as long as its size needs, and a client that stops
        # sending gives its reservation back within `literal_timeout`. Asking for the
        # literal counts too: a client that reads nothing cannot hold it either.
        loop = asyncio.get_running_loop()
        slack, rate = self.limits.literal_timeout, self.limits.literal_min_rate
        deadline = loop.time() + slack
        received = bytearray()
        try:
            if ask:
                async with asyncio.timeout_at(deadline):
                    await self.respond(CONTINUE)
            while len(received) < size:
                async with asyncio.timeout_at(deadline):
                    chunk = await self.reader.read(size - len(received))
                if not chunk:
                    raise ConnectionClosed("closed in a literal")
                received += chunk
                deadline = min(deadline + len(chunk) / rate, loop.time() + slack)
        except TimeoutError:
            # Not drained: a client too slow to send may be too slow to read; closing
            # the connection waits for the goodbye only briefly.
            self.writer.write(SLOW_LITERAL_BYE + b"\r\n")
            raise ConnectionClosed("literal too slow") from None
        return received

    def _literal_limit(self, appending: bool) -> int:
        if not self.logged_in:
            return self.limits.max_line
        return self.limits.max_append_literal if appending else self.limits.max_literal

    def _command_limit(self, appending: bool) -> int:
        if not self.logged_in:
            return self.limits.max_line
        return self._literal_limit(appending) + self.limits.max_line

    async def _refuse(self, data: bytes, non_sync: bool, appending: bool) -> Refused:
        if non_sync:
            await self.write(TOO_BIG_BYE + b"\r\n")
            raise ConnectionClosed("literal too large")
        if appending:
            return Refused(_tag_of(data), "NO", "[TOOBIG] message too large")
        return Refused(_tag_of(data), "BAD", "literal too large")

    def _release(self) -> None:
        self.budget.release(self._reserved)
        self._reserved = 0

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
        self._release()
        self.writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)


def _is_append(data: bytes) -> bool:
    words = data.split(b" ", 3)
    return len(words) > 1 and words[1].upper() == b"APPEND"


def _tag_of(data: bytes) -> str:
    tag = data.split(b" ", 1)[0].strip()
    if not tag or len(tag) > 64 or not tag.isascii():
        return "*"
    return tag.decode("ascii")
