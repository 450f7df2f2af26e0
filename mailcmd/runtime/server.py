"""The mailcmd process: starts the parts in one asyncio loop and stops them cleanly."""

import asyncio
import gc
import logging
import signal
from collections.abc import Callable

from mailcmd.addressing.recipients import RecipientDirectory
from mailcmd.addressing.reply_key_file import ReplyKeyFile
from mailcmd.addressing.routes import RouteResolver
from mailcmd.app.loading import (
    MODULE_PREFIX,
    check_account_addresses,
    check_templates,
    load_registry,
    prepare_app_schema,
    template_folders,
)
from mailcmd.app.rendering import Renderer
from mailcmd.db.database import Database
from mailcmd.db.models import QueueStatus
from mailcmd.db.notifier import Channel, Notifier
from mailcmd.db.private_files import tighten_state_folder
from mailcmd.identity.authenticity import DnsResolver, TxtResolver
from mailcmd.identity.logins import Authenticator
from mailcmd.imap.changes import MailboxEvents
from mailcmd.imap.listeners import ImapListeners, start_imap
from mailcmd.net.tls import CertificateError, CertificateFiles, ServerTls, development_certificate
from mailcmd.operations.alerts import Alerter
from mailcmd.operations.autoconfig import AutoconfigListener, autoconfig_document
from mailcmd.operations.metrics.listener import MetricsListener
from mailcmd.operations.retention import PURGE_JOB_NAME, purge_job
from mailcmd.outbound.delivery import Deliverer
from mailcmd.outbound.signing import load_signers
from mailcmd.runtime.allocator import return_big_blocks_to_the_system
from mailcmd.runtime.attempts import Outcome
from mailcmd.runtime.outcomes import Outcomes
from mailcmd.runtime.processing import Processor
from mailcmd.runtime.scheduler import Scheduler
from mailcmd.runtime.systemd import READY, STOPPING, notify
from mailcmd.runtime.worker import Worker
from mailcmd.settings import LISTENER_PORT_KEYS, OFF, Settings, SettingsError
from mailcmd.smtp.inbound_queue import InboundQueue
from mailcmd.smtp.listeners import SmtpListeners, start_smtp

log = logging.getLogger(__name__)

# How long transactions in flight may take to finish once a stop is asked for.
SHUTDOWN_GRACE_SECONDS = 10.0


def server_tls(settings: Settings) -> ServerTls:
    """Return the TLS context from the configured certificate, or the development one.

    Raises `SettingsError` naming the settings if the certificate cannot be loaded.
    """
    smtp = settings.smtp
    if smtp.tls_cert is not None and smtp.tls_key is not None:
        files = CertificateFiles(cert=smtp.tls_cert, key=smtp.tls_key)
        keys = "smtp.tls_cert, smtp.tls_key"
    else:
        files = development_certificate(settings.state_dir, settings.domain)
        keys = "state_dir (development certificate)"
    try:
        return ServerTls(files)
    except CertificateError as error:
        raise SettingsError(f"{keys}: {error}") from None


class Server:
    """Every part of a running mailcmd, started and stopped together on one event loop."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        receive: bool = True,
        work: bool = True,
        resolver: TxtResolver | None = None,
    ) -> None:
        """Prepare to serve `settings` from `database`; nothing runs until `start`.

        Loads the app from the commands folder and checks it: a registration error
        stops the server before it listens. `receive` runs the SMTP ports, `work`
        the worker.
        """
        self.settings = settings
        self.database = database
        # Before anything (keys, certificates) is written into it.
        tighten_state_folder(settings.state_dir)
        self.resolver = resolver or DnsResolver(settings.dns_resolver)
        self.registry = load_registry(settings.commands)
        self.reply_keys = ReplyKeyFile(settings.state_dir)
        self.routes = RouteResolver(self.registry, self.reply_keys.keys)
        prepare_app_schema(settings.commands, settings.app_migrations, database)
        check_account_addresses(self.registry, database)
        renderer = Renderer(template_folders(settings.templates))
        check_templates(self.registry, renderer)
        self.tls = server_tls(settings) if receive else None
        self.signers = load_signers(settings) if work else None
        # Sessions of the mailbox server hear at once of mail this process delivers:
        # where the database notifies (PostgreSQL) from the delivery's own NOTIFY,
        # which names the account and comes back to this process too; otherwise the
        # notifier hears only other processes, and the deliverer and the worker here
        # wake every session.
        self.mailbox_events = MailboxEvents()
        self._wake_mailboxes = not database.capabilities.notify
        # This process's one ear for the others that share the database.
        self.notifier = Notifier(database.engine)
        # What became of each inbound message this process's worker finished, and of
        # each outbox message its deliverer tried: for whoever waits on one of them.
        self.processing_outcomes: Outcomes[Outcome] = Outcomes()
        self.delivery_outcomes: Outcomes[QueueStatus] = Outcomes()
        self.deliverer = (
            Deliverer(
                database,
                settings.relay,
                settings.worker.poll_seconds,
                self.delivery_outcomes,
                sign=self.signers.sign
                if self.signers is not None and self.signers.signers
                else None,
                on_local_delivery=self.mailbox_events.wake if self._wake_mailboxes else None,
            )
            if work
            else None
        )
        self.worker = (
            Worker(
                settings.worker,
                database,
                Processor(settings, self.registry, renderer, database, self.routes),
                self.processing_outcomes,
                on_done=self._processed,
            )
            if work
            else None
        )
        self.scheduler = (
            Scheduler(
                {**self.registry.jobs, PURGE_JOB_NAME: purge_job(database, settings.retention)},
                database,
                renderer,
                self.reply_keys.keys,
                domain=settings.domain,
                zone=settings.zone,
                poll_seconds=settings.worker.poll_seconds,
                on_mail=self._processed,
            )
            if work
            else None
        )
        self.alerter = (
            Alerter(
                database,
                renderer,
                self.reply_keys.keys,
                settings.alerts,
                domain=settings.domain,
                on_mail=self._processed,
            )
            if work
            else None
        )
        self._inbound = InboundQueue(
            database, on_commit=self.worker.wake if self.worker is not None else None
        )
        if self.worker is not None:
            worker = self.worker
            self.notifier.subscribe(Channel.NEW_MAIL, lambda _: worker.wake())
        if self.deliverer is not None:
            deliverer = self.deliverer
            self.notifier.subscribe(
                Channel.RELAY_MAIL, lambda _: deliverer.relay_mail_queued(), here_too=True
            )
        if receive:
            self.notifier.subscribe(Channel.MAILBOX, self.mailbox_events.hear)
        self._listeners: SmtpListeners | None = None
        self._imap: ImapListeners | None = None
        self._autoconfig: AutoconfigListener | None = None
        self._metrics: MetricsListener | None = None

    def _processed(self) -> None:
        # A processed message may have filled local mailboxes. (Mail it queued for
        # the relay wakes the deliverer by its commit: `Channel.RELAY_MAIL`.)
        if self._wake_mailboxes:
            self.mailbox_events.wake()

    @property
    def addresses(self) -> dict[str, str]:
        """Each listener's name and the `host:port` it is bound to (the real port, not 0)."""
        found = self._listeners.addresses() if self._listeners else {}
        if self._imap is not None:
            found.update(self._imap.addresses())
        if self._autoconfig is not None:
            found["autoconfig"] = self._autoconfig.address
        if self._metrics is not None:
            found["metrics"] = self._metrics.address
        return found

    def listeners_down(self) -> list[str]:
        """The names of the listeners this process should run that accept no connections.

        Before they are bound, or once a stop has closed them: `/healthz` fails then.
        """
        servers = {
            **(self._listeners.servers if self._listeners is not None else {}),
            **(self._imap.servers if self._imap is not None else {}),
        }
        serving = {name for name, server in servers.items() if server.is_serving()}
        for name, listener in (("autoconfig", self._autoconfig), ("metrics", self._metrics)):
            if listener is not None and listener.serving:
                serving.add(name)
        # A worker process runs no listener but its metrics.
        expected = [
            name
            for name, port in self.settings.listener_ports().items()
            if port is not None and (self.tls is not None or name == "metrics")
        ]
        return [name for name in expected if name not in serving]

    @property
    def ports(self) -> dict[str, int]:
        """Each listener's name and the port it is bound to (the real port, not 0)."""
        return {name: int(address.rsplit(":", 1)[1]) for name, address in self.addresses.items()}

    async def start(self) -> None:
        """Start the worker, the inbound queue writer, and listen on every configured port."""
        metrics = self.settings.metrics
        if metrics.port is not None:
            # First, so that a scrape sees the start-up too (`/healthz` fails until
            # every listener is bound).
            self._metrics = MetricsListener(
                metrics, metrics.port, self.database, self.listeners_down
            )
            await self._metrics.start()
        self.notifier.start()
        if self.worker is not None:
            self.worker.start()
        if self.deliverer is not None:
            self.deliverer.start()
        if self.scheduler is not None:
            self.scheduler.start()
        if self.alerter is not None:
            self.alerter.start()
        if self.tls is None:
            return
        self._inbound.start()
        # One authenticator for SMTP and IMAP: failures on either count for both.
        authenticator = Authenticator(self.database, self.settings.auth)
        self._listeners = await start_smtp(
            self.settings,
            self.tls,
            authenticator,
            RecipientDirectory(self.database, self.routes),
            self._inbound,
            self.resolver,
        )
        self._imap = await start_imap(
            self.settings,
            self.tls,
            authenticator,
            self.database,
            self.mailbox_events,
        )
        autoconfig = self.settings.autoconfig
        if autoconfig.port is not None:
            # Made only now: the document names the ports just bound, which 0 leaves open.
            self._autoconfig = AutoconfigListener(
                {
                    domain: autoconfig_document(self.settings, self.ports, domain)
                    for domain in self.settings.domains
                },
                autoconfig.host or self.settings.smtp.host,
                autoconfig.port,
            )
            await self._autoconfig.start()

    async def stop(self, grace_seconds: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop accepting, let transactions in flight finish for a while, then close all."""
        if self._autoconfig is not None:
            await self._autoconfig.stop()
        if self._imap is not None:
            self._imap.stop_accepting()
            await self._imap.close_sessions()
        if self._listeners is not None:
            self._listeners.stop_accepting()
            try:
                await asyncio.wait_for(_transactions_finished(self._listeners), grace_seconds)
            except TimeoutError:
                in_flight = self._listeners.transactions_in_flight()
                log.warning("gave up waiting for %d transactions in flight", in_flight)
            self._listeners.close_connections()
            await self._inbound.stop()
        if self.worker is not None:
            await self.worker.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.alerter is not None:
            await self.alerter.stop()
        if self.deliverer is not None:
            await self.deliverer.stop()
        await self.notifier.stop()
        if self._metrics is not None:
            # Last: until here, `/healthz` tells a load balancer the process is stopping.
            await self._metrics.stop()

    def start_up_lines(self) -> list[str]:
        """What an operator needs to see at start-up: addresses, certificate, what runs."""
        asked = self.settings.listener_ports()
        lines = [
            _listening_line(name, address, asked[name]) for name, address in self.addresses.items()
        ]
        if self.tls is not None:
            lines += [
                f"certificate: {self.tls.files.cert}",
                f"certificate SHA-256 fingerprint: {self.tls.fingerprint}",
            ]
        mailboxes = ", ".join(self.registry.app_mailbox_names) or "none"
        lines.append(f"commands: {self.settings.commands} (mailboxes: {mailboxes})")
        lines.append("worker: " + ("running" if self.worker is not None else "off"))
        if self.worker is not None and self.registry.jobs:
            jobs = ", ".join(
                f"{job.name.removeprefix(MODULE_PREFIX)} ({job.trigger.describe()})"
                for job in self.registry.jobs.values()
            )
            lines.append(f"scheduled jobs ({self.settings.timezone}): {jobs}")
        if self.worker is not None:
            lines.append(
                f"retention: purge at cron {self.settings.retention.schedule}"
                f" ({self.settings.timezone}); see mailcmd queue purge --dry-run"
            )
        if self.signers is not None:
            lines += self.signers.describe()
        relay = self.settings.relay
        lines.append(
            f"relay: {relay.host}:{relay.port} (STARTTLS {relay.starttls})"
            if relay.host
            else "relay: none configured; mail for other domains waits in the outbox"
        )
        lines.append("domains: " + ", ".join(self.settings.domains))
        return lines


async def serve(
    settings: Settings,
    database: Database,
    announce: Callable[[str], None],
    *,
    receive: bool = True,
    work: bool = True,
    more_lines: Callable[[Server], list[str]] | None = None,
    resolver: TxtResolver | None = None,
) -> None:
    """Run until SIGTERM or SIGINT; SIGHUP reloads the certificate.

    Tells systemd (`$NOTIFY_SOCKET`) READY=1 once every listener is bound, and
    STOPPING=1 when a stop begins.

    `more_lines` adds to what is announced once the server listens (the demo's
    mail-client settings, say); `resolver` replaces the network's DNS.
    """
    return_big_blocks_to_the_system()
    server = Server(settings, database, receive=receive, work=work, resolver=resolver)
    try:
        await server.start()
    except BaseException:
        # A listener that cannot bind ends the start: what did start stops with it.
        await server.stop(grace_seconds=0)
        raise
    freeze_start_up_objects()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    if server.tls is not None:
        loop.add_signal_handler(signal.SIGHUP, server.tls.reload)
    # Off the loop: the demo's lines make its account, once every listener is bound.
    extra = await asyncio.to_thread(more_lines, server) if more_lines is not None else []
    lines = server.start_up_lines() + extra
    for line in [*lines, "ready"]:
        announce(line)
    notify(READY)
    await stop.wait()
    notify(STOPPING)
    log.info("stopping: no new connections; letting transactions in flight finish")
    await server.stop()
    for signal_number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(signal_number)
    log.info("stopped")


def freeze_start_up_objects() -> None:
    """Keep what start-up made (modules, models, templates) out of garbage collections.

    A full collection otherwise walks every one of those objects: 70-100 ms during
    which no SMTP session moves (benchmark, 2 KB at 100 connections); frozen, 2-9 ms.
    """
    gc.collect()
    gc.freeze()


def _listening_line(name: str, address: str, asked: int | None) -> str:
    line = f"listening: {name} on {address}"
    if asked != 0:
        return line
    # Said, because a port of 0 turned a listener off before it meant any free port.
    return f'{line} ({LISTENER_PORT_KEYS[name]} is 0: any free port; "{OFF}" turns it off)'


async def _transactions_finished(listeners: SmtpListeners) -> None:
    # Sessions carry no completion event of their own, so a stop checks on them.
    while listeners.transactions_in_flight():
        await asyncio.sleep(0.05)
