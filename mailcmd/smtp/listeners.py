"""The SMTP ports: submission (STARTTLS), submissions (implicit TLS) and the optional MX port."""

import asyncio
import logging
import warnings

from mailcmd.addressing.recipients import RecipientDirectory
from mailcmd.identity.authenticity import TxtResolver
from mailcmd.identity.hourly_counts import HourlyCounts
from mailcmd.identity.logins import Authenticator
from mailcmd.net.listener_groups import (
    bound,
    listening_addresses,
    serving_names,
    stop_listening,
)
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


class SmtpListeners:
    """The SMTP ports of this process, their connections and transactions (a `Service`)."""

    name = "smtp"

    def __init__(
        self,
        settings: Settings,
        tls: ServerTls,
        authenticator: Authenticator,
        recipients: RecipientDirectory,
        inbound: InboundQueue,
        resolver: TxtResolver | None = None,
        grace_seconds: float = 0.0,
    ) -> None:
        """Prepare every SMTP port that is not off; nothing listens until `start`.

        A stop lets transactions in flight finish for `grace_seconds` at most.
        """
        self._settings = settings
        self._tls = tls
        self._authenticator = authenticator
        self._recipients = recipients
        self._inbound = inbound
        self._resolver = resolver
        self._grace_seconds = grace_seconds
        self.connections = ConnectionCounter(settings.smtp.max_connections)
        self.servers: dict[str, asyncio.Server] = {}
        # The MX port's checks of other servers' mail, with threads of their own.
        self._judge: Judge | None = None

    def addresses(self) -> dict[str, str]:
        """Return each listener's name and the `host:port` it listens on."""
        return listening_addresses(self.servers)

    def listening(self) -> set[str]:
        """The names of the listeners that accept connections now."""
        return serving_names(self.servers)

    async def run(self) -> None:
        """Nothing: connections are served as they come."""

    async def stop(self) -> None:
        """Stop accepting, let transactions in flight finish for a while, then say goodbye.

        Every open client is told the server is shutting down, and its connection closed.
        """
        stop_listening(self.servers)
        try:
            await asyncio.wait_for(self.connections.transactions_finished(), self._grace_seconds)
        except TimeoutError:
            in_flight = self.connections.transactions_in_flight()
            log.warning("gave up waiting for %d transactions in flight", in_flight)
        for protocol in list(self.connections.protocols):
            protocol.say_goodbye()
        if self._judge is not None:
            self._judge.close()

    async def start(self) -> None:
        """Listen on every SMTP port that is not off (on a free one where it is 0)."""
        quiet_engine_logs()
        settings = self._settings
        smtp = settings.smtp
        if smtp.mx_port is not None and self._resolver is not None:
            self._judge = Judge(
                self._resolver,
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
                self._authenticator,
                self._recipients,
                self._inbound,
                None if submission else self._judge,
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
                        self.connections,
                        data_size_limit=smtp.max_message_size,
                        enable_SMTPUTF8=True,
                        hostname=settings.domain,
                        ident="ESMTP mailcmd",
                        tls_context=None if implicit_tls else self._tls.context,
                        require_starttls=handler.policy.submission and not implicit_tls,
                        auth_required=handler.policy.submission,
                        auth_require_tls=not implicit_tls,
                        auth_exclude_mechanism=(
                            () if handler.policy.submission else ("PLAIN", "LOGIN")
                        ),
                        timeout=smtp.timeout,
                        loop=loop,
                    )

            self.servers[name] = await bound(
                name,
                smtp.host,
                port,
                loop.create_server(
                    protocol,
                    host=smtp.host,
                    port=port,
                    ssl=self._tls.context if implicit_tls else None,
                    reuse_address=True,
                ),
            )
