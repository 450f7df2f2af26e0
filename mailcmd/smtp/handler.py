"""The receiver's decisions at each SMTP step: who may log in, send, to whom, and durable accept."""

import asyncio
import base64
import binascii
import logging
import secrets
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from mailcmd.addressing.addresses import (
    InvalidAddressError,
    NonAsciiLocalPartError,
    normalise_address,
)
from mailcmd.addressing.domains import domain_of, is_ours
from mailcmd.addressing.recipients import RecipientDirectory
from mailcmd.db.types import utc_now
from mailcmd.identity.accounts import VerifiedLogin
from mailcmd.identity.authenticity import authentication_results, without_forged_results
from mailcmd.identity.authors import names_domain, sole_address
from mailcmd.identity.hourly_counts import HourlyCounts
from mailcmd.identity.logins import Authenticator
from mailcmd.message.raw_fields import header_fields
from mailcmd.operations.metrics.instruments import MESSAGES_RECEIVED
from mailcmd.operations.traces import new_trace_id, traced
from mailcmd.smtp.inbound_queue import InboundQueue, ReceivedMessage
from mailcmd.smtp.judging import Judge
from mailcmd.smtp.replies import SmtpReplies
from mailcmd.smtp.transactions import log_transaction

log = logging.getLogger(__name__)

# How the null reverse-path of bounces reaches the hooks.
NULL_SENDER = "<>"


@dataclass(frozen=True)
class ListenerPolicy:
    """What one listening port demands of its clients."""

    name: str
    # Submission ports: clients must log in and may send only as their own addresses.
    submission: bool
    # The domains mailcmd answers for, the default first (see `mailcmd.addressing.domains`).
    domains: tuple[str, ...]
    max_recipients: int
    # Logged-in accounts may send to other domains (for delivery through the relay).
    relay_authenticated: bool = False

    @property
    def domain(self) -> str:
        """The default domain: the name this server gives itself in Received and
        Authentication-Results fields."""
        return self.domains[0]


class ReceiverHandler:
    """aiosmtpd hooks for one listener. aiosmtpd finds them by name, so names are exact."""

    def __init__(
        self,
        policy: ListenerPolicy,
        authenticator: Authenticator,
        recipients: RecipientDirectory,
        inbound: InboundQueue,
        judge: Judge | None = None,
        submitted: HourlyCounts | None = None,
    ) -> None:
        """Decide for `policy`'s port, checking logins, recipients, and storing into `inbound`.

        With `judge`, mail from other servers is judged (DKIM, SPF, DMARC) and the
        verdict recorded in an Authentication-Results header. With `submitted`, each
        logged-in account's messages are counted there, shared by the listeners that
        share it, and one past its hourly limit is answered 451 at MAIL.
        """
        self.policy = policy
        self._authenticator = authenticator
        self._recipients = recipients
        self._inbound = inbound
        self._judge = judge
        self._submitted = submitted

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Record the client's name and advertise mailcmd's extensions."""
        session.host_name = hostname
        # aiosmtpd's HELP is dropped, and so is an AUTH with no mechanisms (MX port).
        keywords = [line[4:] for line in responses[1:] if line[4:].strip() not in ("HELP", "AUTH")]
        keywords += ["PIPELINING", "ENHANCEDSTATUSCODES"]
        lines = [responses[0]] + [f"250-{keyword}" for keyword in keywords[:-1]]
        return [*lines, f"250 {keywords[-1]}"]

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        """RFC 4616 PLAIN: `authzid NUL login NUL password`, inline or after a 334."""
        blob = await _initial_response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        parts = blob.split(b"\0")
        if len(parts) != 3:
            await server.push(str(SmtpReplies.SYNTAX_ARGUMENTS))
            return AuthResult(success=False, handled=True)
        return await self._authenticate(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        """LOGIN with the customary `Username:` and `Password:` challenges."""
        login = await _initial_response(server, args, "Username:")
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth("Password:")
        if not isinstance(password, bytes):
            return AuthResult(success=False, handled=True)
        return await self._authenticate(server, login, password)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Accept the sender: on submission ports only an address the account owns.

        The null sender `<>` (bounces and other notifications) is accepted only from
        other servers, on the MX port, and an address of this server's domains only
        on submission ports: on the MX port, where no one logs in, it is forged. A
        logged-in account past `smtp.account_message_rate_limit` messages in its hour
        is told to try again later.
        """
        verified = _verified_login(session)
        refusal = self._refuse_sender(verified, address) or self._refuse_over_limit(verified)
        if refusal is not None:
            self._log_refusal(server, session, refusal, mail_from=address)
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return str(SmtpReplies.SENDER_OK)

    def _refuse_sender(self, verified: VerifiedLogin | None, address: str) -> str | None:
        if address == NULL_SENDER:
            if self.policy.submission:
                return SmtpReplies.SENDER_NOT_OWNED.with_values(login=_login_of(verified))
            return None
        try:
            sender = normalise_address(address)
        except NonAsciiLocalPartError:
            return str(SmtpReplies.NON_ASCII_LOCAL_PART)
        except InvalidAddressError:
            return str(SmtpReplies.MALFORMED_ADDRESS)
        if self.policy.submission and (verified is None or sender not in verified.addresses):
            return SmtpReplies.SENDER_NOT_OWNED.with_values(login=_login_of(verified))
        if not self.policy.submission and is_ours(sender, self.policy.domains):
            return SmtpReplies.LOCAL_DOMAIN_FROM_OUTSIDE.with_values(domain=domain_of(sender))
        return None

    def _refuse_over_limit(self, verified: VerifiedLogin | None) -> str | None:
        # Counted at MAIL, before anything is stored: a 451 tells the client to try
        # again later, where a dropped reply would tell the person nothing.
        if verified is None or self._submitted is None:
            return None
        if self._submitted.allow(f"account {verified.account_id}"):
            return None
        log.warning("account %s is over its hourly message limit", verified.login)
        return SmtpReplies.TOO_MANY_MESSAGES.with_values(
            login=verified.login, limit=self._submitted.limit
        )

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Accept local addresses that exist; refuse unknown ones now, and relaying."""
        refusal = await self._refuse_recipient(session, envelope, address)
        if refusal is not None:
            self._log_refusal(server, session, refusal, envelope.mail_from, [address])
            return refusal
        envelope.rcpt_tos.append(normalise_address(address))
        envelope.rcpt_options.extend(options)
        return str(SmtpReplies.RECIPIENT_OK)

    async def _refuse_recipient(
        self, session: Session, envelope: Envelope, address: str
    ) -> str | None:
        if len(envelope.rcpt_tos) >= self.policy.max_recipients:
            return str(SmtpReplies.TOO_MANY_RECIPIENTS)
        try:
            recipient = normalise_address(address)
        except NonAsciiLocalPartError:
            return str(SmtpReplies.NON_ASCII_LOCAL_PART)
        except InvalidAddressError:
            return str(SmtpReplies.MALFORMED_ADDRESS)
        if not is_ours(recipient, self.policy.domains):
            may_relay = self.policy.relay_authenticated and self.policy.submission
            if may_relay and _verified_login(session) is not None:
                return None
            return SmtpReplies.RELAY_DENIED.with_values(address=recipient)
        if not await self._recipients.exists(recipient):
            return SmtpReplies.UNKNOWN_RECIPIENT.with_values(address=recipient)
        verified = _verified_login(session)
        refused = (
            None if verified is None else self._recipients.refusal(recipient, verified.account_id)
        )
        if refused is not None:
            # The account is known here: a reply address that is not its own is
            # refused before any data, without a word on what the tag names; one of
            # its own that has expired is told so.
            reply = (
                SmtpReplies.REPLY_KEY_EXPIRED if refused.expired else SmtpReplies.REPLY_KEY_REFUSED
            )
            return reply.with_values(address=recipient)
        return None

    async def handle_VRFY(
        self, server: SMTP, session: Session, envelope: Envelope, address: str
    ) -> str:
        """Reveal nothing about which addresses exist."""
        return str(SmtpReplies.VRFY_NOTHING)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Take the message in a trace of its own (see `operations.traces`), refused or stored."""
        trace_id = new_trace_id()
        with traced(trace_id):
            return await self._take_data(server, session, envelope, trace_id)

    async def _take_data(
        self, server: SMTP, session: Session, envelope: Envelope, trace_id: str
    ) -> str:
        """Commit the message to the inbound queue; only then say 250.

        A message with a bare CR or LF is refused whole rather than normalised: such
        line endings are how a second message is smuggled past a server that reads
        lines differently from the next one (CVE-2024-27305, SMTP smuggling).
        A message whose author is someone its sender may not speak as is refused too
        (see `_refuse_author`); a submission without From gets the envelope sender's.
        """
        # The one copy of the message (see ReceiverProtocol.smtp_DATA): trace fields
        # go in front of it in place, and it is stored as it is.
        content = envelope.original_content
        assert isinstance(content, bytearray)
        verified = _verified_login(session)
        fields = header_fields(content)
        refusal = (
            str(SmtpReplies.BARE_LINE_ENDING)
            if _has_bare_line_ending(content)
            else self._refuse_author(fields, verified)
        )
        if refusal is not None:
            self._log_refusal(server, session, refusal, envelope.mail_from, envelope.rcpt_tos)
            return refusal
        added_from = b""
        if self.policy.submission and "from" not in fields:
            # RFC 5322 requires a From. Like Postfix's cleanup, the submission server
            # writes the envelope sender's, an address the account was checked to own.
            added_from = f"From: <{envelope.mail_from}>\r\n".encode()
        tls = _tls_details(server)
        client = _client_address(session)
        judgement = _Judgement(header=b"")
        if self._judge is not None and not self.policy.submission:
            judgement = await self._judged(content, client, session.host_name or "", envelope)
            without_forged_results(content, self.policy.domain)
        # One insertion in front: each moves the whole message, up to its maximum size.
        trace = self._trace_header(session, envelope, verified, tls, trace_id)
        content[:0] = trace + judgement.header + added_from
        message = ReceivedMessage(
            raw=content,
            mail_from="" if envelope.mail_from == NULL_SENDER else envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            account_id=verified.account_id if verified else None,
            auth_method=verified.method if verified else None,
            client_address=client,
            helo=session.host_name or "",
            tls_protocol=tls[0] if tls else None,
            tls_cipher=tls[1] if tls else None,
            verified_from=judgement.verified_from,
            authentication_results=judgement.results,
            trace_id=trace_id,
        )
        try:
            queue_id = await self._inbound.put(message)
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("ref=%s could not store a message from %s", ref, client)
            reply = SmtpReplies.TEMPORARY_FAILURE.with_values(ref=ref)
            self._log_refusal(server, session, reply, envelope.mail_from, envelope.rcpt_tos)
            return reply
        reply = SmtpReplies.QUEUED.with_values(queue_id=queue_id)
        MESSAGES_RECEIVED.labels(self.policy.name).inc()
        log_transaction(
            reply,
            queue_id=queue_id,
            **self._session_fields(server, session),
            mail_from=envelope.mail_from,
            rcpt_to=list(envelope.rcpt_tos),
            size=len(content),
        )
        return reply

    def _refuse_author(
        self, fields: dict[str, list[str]], verified: VerifiedLogin | None
    ) -> str | None:
        """The refusal for a message whose header `fields` claim an author its sender may
        not speak as, or None.

        A logged-in account writes as itself: a From (if any) must be exactly one
        address it owns (one mailbox, no group, no second author), and so must a Sender.
        On the MX port no From may name an address of this server's domains: only its
        logged-in accounts send as those.
        """
        if self.policy.submission:
            owned = verified.addresses if verified is not None else frozenset()
            if any(
                sole_address(fields[name]) not in owned
                for name in ("from", "sender")
                if name in fields
            ):
                return SmtpReplies.FROM_NOT_OWNED.with_values(login=_login_of(verified))
        else:
            authors = fields.get("from", [])
            for domain in self.policy.domains:
                if names_domain(authors, domain):
                    return SmtpReplies.LOCAL_DOMAIN_FROM_OUTSIDE.with_values(domain=domain)
        return None

    async def handle_exception(self, error: Exception) -> str:
        """Log an unexpected error with a reference; the client sees only the reference."""
        ref = secrets.token_hex(4)
        log.error("ref=%s internal error in an SMTP session", ref, exc_info=error)
        return SmtpReplies.TEMPORARY_FAILURE.with_values(ref=ref)

    async def _judged(
        self, content: bytearray, client: str, helo: str, envelope: Envelope
    ) -> "_Judgement":
        assert self._judge is not None
        domain = self.policy.domain
        sender = "" if envelope.mail_from == NULL_SENDER else envelope.mail_from or ""
        verified_from: str | None = None
        try:
            verdict = await self._judge.verdict(content, client, helo, sender)
            results = authentication_results(verdict, domain)
            verified_from = verdict.verified_from
        except ValueError:
            results = f"{domain}; none"
        header = f"Authentication-Results: {results}\r\n".encode("ascii", errors="replace")
        return _Judgement(header=header, verified_from=verified_from, results=results)

    def _log_refusal(
        self,
        server: SMTP,
        session: Session,
        reply: str,
        mail_from: str | None = None,
        rcpt_to: list[str] | None = None,
    ) -> None:
        log_transaction(
            reply,
            **self._session_fields(server, session),
            mail_from=mail_from,
            rcpt_to=rcpt_to,
        )

    def _session_fields(self, server: SMTP, session: Session) -> dict[str, Any]:
        verified = _verified_login(session)
        tls = _tls_details(server)
        return {
            "port": self.policy.name,
            "client": _client_address(session),
            "helo": session.host_name,
            "account": verified.login if verified else None,
            "tls": tls[0] if tls else "none",
        }

    async def _authenticate(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        outcome = await self._authenticator.authenticate(
            login.decode("utf-8", errors="replace"),
            password.decode("utf-8", errors="replace"),
            _client_address(server.session),
        )
        if outcome.locked:
            await server.push(str(SmtpReplies.LOCKED_OUT))
            if server.transport is not None:
                server.transport.close()
            return AuthResult(success=False, handled=True)
        if outcome.verified is None:
            await asyncio.sleep(outcome.delay)
            await server.push(str(SmtpReplies.AUTH_INVALID))
            return AuthResult(success=False, handled=True)
        return AuthResult(
            success=True, auth_data=outcome.verified, message=str(SmtpReplies.AUTH_OK)
        )

    def _trace_header(
        self,
        session: Session,
        envelope: Envelope,
        verified: VerifiedLogin | None,
        tls: tuple[str, str] | None,
        trace_id: str,
    ) -> bytes:
        protocol = "ESMTP" if session.extended_smtp else "SMTP"
        protocol += ("S" if tls else "") + ("A" if verified else "")
        encryption = f" ({tls[0]} {tls[1]})" if tls else ""
        recipient = f"\r\n\tfor <{envelope.rcpt_tos[0]}>" if len(envelope.rcpt_tos) == 1 else ""
        header = (
            f"Received: from {_header_safe(session.host_name or 'unknown')}"
            f" ([{_client_address(session)}])\r\n"
            f"\tby {self.policy.domain} (mailcmd) with {protocol}{encryption}\r\n"
            # The id clause (RFC 5321): the trace id, as Postfix writes its queue id.
            f"\tid {trace_id}{recipient};\r\n"
            f"\t{format_datetime(utc_now())}\r\n"
        )
        return header.encode("ascii", errors="replace")


@dataclass(frozen=True)
class _Judgement:
    """What the MX port found out about a message's sender, and the field that says so."""

    header: bytes
    verified_from: str | None = None
    results: str | None = None


def _login_of(verified: VerifiedLogin | None) -> str:
    return verified.login if verified else "nobody"


def _has_bare_line_ending(content: bytearray) -> bool:
    crlf = content.count(b"\r\n")
    return content.count(b"\r") != crlf or content.count(b"\n") != crlf


def _verified_login(session: Session) -> VerifiedLogin | None:
    data: object = session.auth_data
    return data if session.authenticated and isinstance(data, VerifiedLogin) else None


async def _initial_response(server: SMTP, args: list[str], challenge: str) -> bytes | None:
    # The client's first answer comes inline with AUTH, or after a 334 challenge;
    # None means the exchange is over and its reply already sent.
    if len(args) == 1:
        answer = await server.challenge_auth(challenge)
        return answer if isinstance(answer, bytes) else None
    decoded = _base64(args[1])
    if decoded is None:
        await server.push(str(SmtpReplies.BAD_BASE64))
    return decoded


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def _tls_details(server: SMTP) -> tuple[str, str] | None:
    transport: Any = server.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return (ssl_object.version() or "TLS", cipher[0] if cipher else "unknown")


def _client_address(session: Session | None) -> str:
    peer = session.peer if session is not None else None
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


def _header_safe(text: str) -> str:
    return "".join(character for character in text if character.isprintable())[:255]
