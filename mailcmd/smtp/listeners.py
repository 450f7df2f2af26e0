"""The SMTP ports: submission (STARTTLS), submissions (implicit TLS) and the optional MX port."""

import asyncio
import logging
import warnings
from dataclasses import dataclass, field

from mailcmd.addressing.recipients import RecipientDirectory
from mailcmd.identity.authenticity import TxtResolver
from mailcmd.identity.hourly_counts import HourlyCounts
from mailcmd.identity.logins import Authenticator
from mailcmd.net.listener_groups import bound, listening_addresses, stop_listening
from mailcmd.net.tls import ServerTls
from mailcmd.settings import Settings
from mailcmd.smtp.handler import ListenerPolicy, ReceiverHandler
from mailcmd.smtp.inbound_queue import InboundQueue
from mailcmd.smtp.judging import Judge, JudgeLimits
from mailcmd.smtp.protocol import ConnectionCounter, ReceiverProtocol

log = logging.getLogger(__name__)


# aiosmtpd's warnings that say nothing to an operator of mailcmd: the first comes with
# every successful login, the second with every connection to the implicit-TLS port.
_ENGINE_NOISE = (
    "Session.login_data is deprecated",
    "auth_required == True but auth_require_tls == False",
)


def _not_engine_noise(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_ENGINE_NOISE)


def quiet_engine_logs() -> None:
    """Keep aiosmtpd's log to warnings that matter.

    At INFO it logs every command line, AUTH lines with credentials among them.
    """
    engine = logging.getLogger("mail.log")
    engine.setLevel(logging.WARNING)
    if _not_engine_noise not in engine.filters:
        engine.addFilter(_not_engine_noise)


@dataclass
class SmtpListeners:
    """The listening SMTP servers of this process and their open connections."""

    connections: ConnectionCounter
    servers: dict[str, asyncio.Server] = field(default_factory=dict)
    # The MX port's checks of other servers' mail, with threads of their own.
    judge: Judge | None = None

    def addresses(self) -> dict[str, str]:
        """Return each listener's name and the `host:port` it listens on."""
        return listening_addresses(self.servers)

    def stop_accepting(self) -> None:
        """Close the listening sockets; connections already open go on."""
        stop_listening(self.servers)

    def transactions_in_flight(self) -> int:
        """Return how many connections are between MAIL and the end of DATA."""
        return sum(1 for protocol in self.connections.protocols if protocol.in_transaction)

    def close_connections(self) -> None:
        """Tell every open client the server is shutting down, close it, and stop judging."""
        for protocol in list(self.connections.protocols):
            protocol.say_goodbye()
        if self.judge is not None:
            self.judge.close()


async def start_smtp(
    settings: Settings,
    tls: ServerTls,
    authenticator: Authenticator,
    recipients: RecipientDirectory,
    inbound: InboundQueue,
    resolver: TxtResolver | None = None,
) -> SmtpListeners:
    """Start listening on every SMTP port that is not off (on a free one where it is 0)."""
    quiet_engine_logs()
    smtp = settings.smtp
    listeners = SmtpListeners(connections=ConnectionCounter(smtp.max_connections))
    if smtp.mx_port is not None and resolver is not None:
        listeners.judge = Judge(
            resolver,
            JudgeLimits(
                threads=smtp.mx_check_threads,
                seconds_per_message=smtp.mx_check_seconds,
                per_client=smtp.mx_checks_per_client,
            ),
        )
    loop = asyncio.get_running_loop()
    ports = settings.listener_ports()
    # One count for both submission ports: an account's messages on either add up.
    submitted = HourlyCounts(smtp.account_message_rate_limit)
    for name, submission in (("submission", True), ("submissions", True), ("mx", False)):
        port = ports[name]
        if port is None:
            continue
        handler = ReceiverHandler(
            ListenerPolicy(
                name=name,
                submission=submission,
                domains=settings.domains,
                max_recipients=smtp.max_recipients,
                relay_authenticated=smtp.relay_authenticated,
            ),
            authenticator,
            recipients,
            inbound,
            None if submission else listeners.judge,
            submitted if submission else None,
        )
        implicit_tls = name == "submissions"

        def protocol(
            handler: ReceiverHandler = handler, implicit_tls: bool = implicit_tls
        ) -> ReceiverProtocol:
            with warnings.catch_warnings():
                # aiosmtpd warns about AUTH without STARTTLS; on the implicit-TLS
                # port the whole connection is encrypted before the first command.
                warnings.simplefilter("ignore", UserWarning)
                return ReceiverProtocol(
                    handler,
                    listeners.connections,
                    data_size_limit=smtp.max_message_size,
                    enable_SMTPUTF8=True,
                    hostname=settings.domain,
                    ident="ESMTP mailcmd",
                    tls_context=None if implicit_tls else tls.context,
                    require_starttls=handler.policy.submission and not implicit_tls,
                    auth_required=handler.policy.submission,
                    auth_require_tls=not implicit_tls,
                    auth_exclude_mechanism=() if handler.policy.submission else ("PLAIN", "LOGIN"),
                    timeout=smtp.timeout,
                    loop=loop,
                )

        listeners.servers[name] = await bound(
            name,
            smtp.host,
            port,
            loop.create_server(
                protocol,
                host=smtp.host,
                port=port,
                ssl=tls.context if implicit_tls else None,
                reuse_address=True,
            ),
        )
    return listeners
