"""aiosmtpd's protocol, made to speak mailcmd's replies and to respect the connection limit."""

import asyncio
import logging
import re
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any

from aiosmtpd.smtp import SMTP

from mailcmd.operations.metrics.instruments import count_smtp_connection
from mailcmd.smtp.replies import SmtpReplies, with_enhanced_code

log = logging.getLogger(__name__)

# The common `<local@domain>` with a dot-atom local part and a plain host name, and
# what follows it: read with a regular expression, because the stdlib's parser costs
# a tenth of the receiver's time (benchmark profile). It gives exactly what the
# parser gives for these; anything else (quoted, routed, a literal, a comment,
# UTF-8) goes to the parser.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_ADDRESS = re.compile(
    rf"[ \t]*<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>[ \t]*+(?!\()"
)


class ConnectionCounter:
    """The open SMTP connections across every listener of the process, and their transactions."""

    def __init__(self, limit: int) -> None:
        """Allow at most `limit` connections at once."""
        self.limit = limit
        self.open = 0
        self.protocols: set[ReceiverProtocol] = set()
        # Set whenever a transaction may have ended, for a stop that waits for them.
        self._transaction_over = asyncio.Event()

    def transactions_in_flight(self) -> int:
        """Return how many connections are between MAIL and the end of DATA."""
        return sum(1 for protocol in self.protocols if protocol.in_transaction)

    def transaction_over(self) -> None:
        """Hear that a connection's transaction ended (its envelope reset, or it closed)."""
        self._transaction_over.set()

    async def transactions_finished(self) -> None:
        """Return once no connection is between MAIL and the end of DATA."""
        while self.transactions_in_flight():
            self._transaction_over.clear()
            await self._transaction_over.wait()


class ReceiverProtocol(SMTP):
    """One SMTP connection.

    Every reply passes through `push`, which gives aiosmtpd's own replies enhanced
    status codes; a connection over the limit is greeted with 421 and closed; an
    idle client hears 421 before it is cut off.
    """

    def __init__(self, handler: Any, connections: ConnectionCounter, **options: Any) -> None:
        """Serve one connection with `handler`'s hooks; `options` go to aiosmtpd's SMTP."""
        super().__init__(handler, **options)
        self._connections = connections
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Accept the connection, or refuse it with 421 when the limit is reached."""
        if self.transport is None and self._connections.open >= self._connections.limit:
            # Refused before aiosmtpd sets the session up, so no greeting is sent.
            log.warning("refused %s: %d connections open", _peer(transport), self._connections.open)
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(f"{SmtpReplies.TOO_MANY_CONNECTIONS}\r\n".encode())
            transport.close()
            return
        if not self._counted:
            self._counted = True
            self._connections.open += 1
            self._connections.protocols.add(self)
            count_smtp_connection(self.event_handler.policy.name, opened=True)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        """Release the connection's place under the limit."""
        if not self._counted:
            return
        self._counted = False
        self._connections.open -= 1
        self._connections.protocols.discard(self)
        self._connections.transaction_over()
        count_smtp_connection(self.event_handler.policy.name, opened=False)
        super().connection_lost(error)

    def _set_post_data_state(self) -> None:
        # Every end of a transaction passes here (after DATA, on RSET and on a new
        # EHLO): a stop waiting for transactions in flight hears of it.
        super()._set_post_data_state()  # type: ignore[no-untyped-call]
        self._connections.transaction_over()

    async def push(self, reply: str | bytes) -> None:
        """Send one reply line, with an enhanced status code added if the engine left it out."""
        line = reply.encode("utf-8") if isinstance(reply, str) else reply
        await super().push(with_enhanced_code(line, self.data_size_limit or 0))

    async def smtp_STARTTLS(self, arg: str) -> None:
        """Start TLS, unless the connection is encrypted already (aiosmtpd would nest it)."""
        transport = self.transport
        if self._tls_protocol is not None or (
            transport is not None and transport.get_extra_info("ssl_object") is not None
        ):
            await self.push(str(SmtpReplies.TLS_ALREADY_ACTIVE))
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_DATA(self, arg: str) -> None:
        """Read the message into one buffer, undoing dot-stuffing as it comes, and store it.

        aiosmtpd keeps every line as an object of its own and then joins them, so a
        message is in memory two or three times over; here it is there once, and
        the handler adds its trace fields to that same buffer. The replies are
        aiosmtpd's: a line or a message too long is read to its end and refused.
        """
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push(str(SmtpReplies.BAD_SEQUENCE))
            return
        if arg:
            await self.push(str(SmtpReplies.SYNTAX_ARGUMENTS))
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        message = bytearray()
        received = 0
        refusal: str | None = None
        line_start = True
        while self.transport is not None:
            try:
                line = await self._reader.readuntil(b"\r\n")
            except asyncio.CancelledError:
                # The connection was lost during DATA.
                self._writer.close()
                raise
            except asyncio.LimitOverrunError as overrun:
                refusal = refusal or str(SmtpReplies.LINE_TOO_LONG)
                line = await self._reader.read(overrun.consumed)
            if line_start and line == b".\r\n":
                break
            received += len(line)
            if refusal is None and self.data_size_limit and received > self.data_size_limit:
                refusal = SmtpReplies.MESSAGE_TOO_BIG.with_values(limit=self.data_size_limit)
            if refusal is None:
                message += line[1:] if line_start and line.startswith(b".") else line
            elif message:
                # What was read of a refused message is let go at once.
                message = bytearray()
            line_start = line.endswith(b"\r\n")
        if refusal is not None:
            await self.push(refusal)
            self._set_post_data_state()
            return
        # aiosmtpd's types say bytes; the only reader is our handler, which takes the
        # buffer itself so as to add to it in place.
        self.envelope.original_content = message  # type: ignore[assignment]
        reply = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(reply)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # The same parsing as aiosmtpd's, which also defines a typing.Protocol class
        # on every call: that cost more than parsing the address (benchmark profile).
        if not arg:
            return "", ""
        simple = _SIMPLE_ADDRESS.match(arg)
        if simple is not None:
            addr, rest = simple[1], arg[simple.end() :]
        else:
            try:
                parsed = get_angle_addr(arg) if arg.lstrip().startswith("<") else get_addr_spec(arg)
            except HeaderParseError:
                return None, None
            addr, rest = str(parsed[0].addr_spec), parsed[1]
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, rest

    def _timeout_cb(self) -> None:
        # aiosmtpd closes an idle connection without a word; RFC 5321 wants a 421.
        if self.transport is not None and isinstance(self.transport, asyncio.WriteTransport):
            self.transport.write(f"{SmtpReplies.TIMEOUT}\r\n".encode())
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    @property
    def in_transaction(self) -> bool:
        """Whether the client is between MAIL and the reply to its DATA."""
        return self.envelope is not None and self.envelope.mail_from is not None

    def say_goodbye(self) -> None:
        """Tell the client the server is shutting down, and close the connection."""
        if self.transport is not None and isinstance(self.transport, asyncio.WriteTransport):
            self.transport.write(f"{SmtpReplies.SHUTTING_DOWN}\r\n".encode())
            self.transport.close()


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
