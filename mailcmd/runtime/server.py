"""The mailcmd process: starts the parts in one asyncio loop and stops them cleanly."""

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mailcmd.addressing.recipients import RecipientDirectory
from mailcmd.addressing.reply_key_file import ReplyKeyFile
from mailcmd.addressing.routes import RouteResolver
from mailcmd.app.loading import (
    MODULE_PREFIX,
    check_account_addresses,
    check_folders,
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
from mailcmd.imap.listeners import ImapListeners
from mailcmd.net.tls import CertificateError, CertificateFiles, ServerTls, development_certificate
from mailcmd.operations.alerts import Alerter
from mailcmd.operations.autoconfig import AutoconfigListener, autoconfig_document
from mailcmd.operations.metrics.listener import MetricsListener
from mailcmd.operations.retention import PURGE_JOB_NAME, purge_job
from mailcmd.outbound.delivery import Deliverer
from mailcmd.outbound.signing import load_signers
from mailcmd.runtime.allocator import return_big_blocks_to_the_system
from mailcmd.runtime.attempts import Outcome
from mailcmd.runtime.folder_keeper import FolderKeeper
from mailcmd.runtime.folder_syncer import FolderSyncer
from mailcmd.runtime.folder_views import FolderViews
from mailcmd.runtime.outcomes import Outcomes
from mailcmd.runtime.processing import Processor
from mailcmd.runtime.scheduler import Scheduler
from mailcmd.runtime.services import Listening, Service, run_services
from mailcmd.runtime.systemd import READY, STOPPING, notify
from mailcmd.runtime.worker import Worker
from mailcmd.settings import LISTENER_PORT_KEYS, OFF, Settings, SettingsError
from mailcmd.smtp.inbound_queue import InboundQueue
from mailcmd.smtp.listeners import SmtpListeners

log = logging.getLogger(__name__)

S = TypeVar("S", bound=Service)

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
    """Every part of a running mailcmd, as the services the settings ask for, on one event loop."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        receive: bool = True,
        work: bool = True,
        resolver: TxtResolver | None = None,
        grace_seconds: float = SHUTDOWN_GRACE_SECONDS,
    ) -> None:
        """Prepare to serve `settings` from `database`; nothing runs until `run`.

        Loads the app from the commands folder and checks it: a registration error
        stops the server before it listens. `receive` runs the SMTP and IMAP ports,
        `work` the worker, the deliverer and the jobs. A stop lets SMTP transactions
        in flight finish for `grace_seconds` at most.
        """
        self.settings = settings
        self.database = database
        # Before anything (keys, certificates) is written into it.
        tighten_state_folder(settings.state_dir)
        self.registry = load_registry(settings.commands)
        self.reply_keys = ReplyKeyFile(settings.state_dir)
        self.routes = RouteResolver(self.registry, self.reply_keys.keys)
        prepare_app_schema(settings.commands, settings.app_migrations, database)
        check_account_addresses(self.registry, database)
        renderer = Renderer(template_folders(settings.templates))
        check_templates(self.registry, renderer)
        check_folders(self.registry, renderer)
        self.folder_views = FolderViews(
            self.registry,
            renderer,
            self.reply_keys.keys,
            settings.domain,
            settings.imap.app_folder_limit,
        )
        self.folder_keeper = FolderKeeper(
            self.registry, self.folder_views, self.reply_keys.keys, settings.domain
        )
        self.tls = server_tls(settings) if receive else None
        self.signers = load_signers(settings) if work else None
        # Sessions of the mailbox server hear at once of mail this process delivers:
        # where the database notifies (PostgreSQL) from the delivery's own NOTIFY,
        # which names the account and comes back to this process too; otherwise the
        # notifier hears only other processes, and the deliverer and the worker here
        # wake every session.
        self.mailbox_events = MailboxEvents()
        self._wake_mailboxes = not database.capabilities.notify
        # What became of each inbound message this process's worker finished, and of
        # each outbox message its deliverer tried: for whoever waits on one of them.
        self.processing_outcomes: Outcomes[Outcome] = Outcomes()
        self.delivery_outcomes: Outcomes[QueueStatus] = Outcomes()
        # This process's one ear for the others that share the database.
        notifier = Notifier(database.engine)
        # In the order of the start; the stop goes the other way. The metrics come
        # first, so that a scrape sees the start-up too (`/healthz` fails until every
        # listener is bound), and go last: until then, `/healthz` tells a load
        # balancer the process is stopping.
        self.services: list[Service] = []
        if settings.metrics.port is not None:
            self.services.append(
                MetricsListener(
                    settings.metrics, settings.metrics.port, database, self.listeners_down
                )
            )
        self.services.append(notifier)
        if work:
            self.services += self._workers(renderer, notifier)
        if self.tls is not None:
            self.services += self._receivers(self.tls, resolver, notifier, grace_seconds)

    def _workers(self, renderer: Renderer, notifier: Notifier) -> list[Service]:
        """The services of `work`: delivery, alerts, jobs and the worker, in order of start.

        The worker starts last, so that it stops first; the deliverer stops last of
        them, once its relay deliveries in flight have finished and been recorded.
        """
        settings, database = self.settings, self.database
        signers = self.signers
        deliverer = Deliverer(
            database,
            settings.relay,
            settings.worker.poll_seconds,
            self.delivery_outcomes,
            sign=signers.sign if signers is not None and signers.signers else None,
            on_local_delivery=self.mailbox_events.wake if self._wake_mailboxes else None,
        )
        notifier.subscribe(
            Channel.RELAY_MAIL, lambda _: deliverer.relay_mail_queued(), here_too=True
        )
        syncer = FolderSyncer(database, self.folder_views, on_synced=self._processed)
        worker = Worker(
            settings.worker,
            database,
            Processor(settings, self.registry, renderer, database, self.routes, syncer),
            self.processing_outcomes,
            on_done=self._processed,
        )
        # here_too: an IMAP client's folder action, queued in this process, wakes it too.
        notifier.subscribe(Channel.NEW_MAIL, lambda _: worker.wake(), here_too=True)
        alerter = Alerter(
            database,
            renderer,
            self.reply_keys.keys,
            settings.alerts,
            domain=settings.domain,
            on_mail=self._processed,
        )
        scheduler = Scheduler(
            {**self.registry.jobs, PURGE_JOB_NAME: purge_job(database, settings.retention)},
            database,
            renderer,
            self.reply_keys.keys,
            domain=settings.domain,
            zone=settings.zone,
            poll_seconds=settings.worker.poll_seconds,
            on_mail=self._processed,
            folder_views=self.folder_views,
        )
        # The syncer stops after the worker, so that what the worker's last batch
        # changed still shows.
        return [deliverer, alerter, scheduler, syncer, worker]

    def _receivers(
        self,
        tls: ServerTls,
        resolver: TxtResolver | None,
        notifier: Notifier,
        grace_seconds: float,
    ) -> list[Service]:
        """The services of `receive`: the inbound queue, SMTP, IMAP and autoconfig, in order.

        The queue's writer starts before the SMTP ports and stops after them, so that
        every transaction let finish is committed.
        """
        settings, database = self.settings, self.database
        worker = self._running(Worker)
        inbound = InboundQueue(database, on_commit=worker.wake if worker is not None else None)
        notifier.subscribe(Channel.MAILBOX, self.mailbox_events.hear)
        # One authenticator for SMTP and IMAP: failures on either count for both.
        authenticator = Authenticator(database, settings.auth)
        receivers: list[Service] = [
            inbound,
            SmtpListeners(
                settings,
                tls,
                authenticator,
                RecipientDirectory(database, self.routes),
                inbound,
                resolver or DnsResolver(settings.dns_resolver),
                grace_seconds,
            ),
            ImapListeners(
                settings,
                tls,
                authenticator,
                database,
                self.mailbox_events,
                self.folder_keeper if self.folder_views.declared else None,
            ),
        ]
        autoconfig = settings.autoconfig
        if autoconfig.port is not None:
            receivers.append(
                AutoconfigListener(
                    lambda: {
                        domain: autoconfig_document(settings, self.ports, domain)
                        for domain in settings.domains
                    },
                    autoconfig.host or settings.smtp.host,
                    autoconfig.port,
                )
            )
        return receivers

    def _running(self, kind: type[S]) -> S | None:
        return next((service for service in self.services if isinstance(service, kind)), None)

    def service(self, kind: type[S]) -> S:
        """This process's service of `kind` (`Worker`, say).

        Raises `LookupError` when the settings leave that part out of this process.
        """
        found = self._running(kind)
        if found is None:
            raise LookupError(f"this process runs no {kind.__name__.lower()}")
        return found

    def _processed(self) -> None:
        # A processed message may have filled local mailboxes. (Mail it queued for
        # the relay wakes the deliverer by its commit: `Channel.RELAY_MAIL`.)
        if self._wake_mailboxes:
            self.mailbox_events.wake()

    @property
    def _listeners(self) -> list[Listening]:
        return [service for service in self.services if isinstance(service, Listening)]

    @property
    def addresses(self) -> dict[str, str]:
        """Each listener's name and the `host:port` it is bound to (the real port, not 0)."""
        found: dict[str, str] = {}
        for listener in self._listeners:
            found.update(listener.addresses())
        return found

    def listeners_down(self) -> list[str]:
        """The names of the listeners this process should run that accept no connections.

        Before they are bound, or once a stop has closed them: `/healthz` fails then.
        """
        serving = set().union(*(listener.listening() for listener in self._listeners))
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

    async def run(
        self, shutdown: asyncio.Event, while_running: Callable[[], Awaitable[None]]
    ) -> None:
        """Start every service, await `while_running`, then stop every service.

        `while_running` returns once `shutdown` is set; a service whose work fails
        sets it too, and `ServiceFailed` is raised once everything has stopped. A
        listener that cannot bind raises `ListenError`, once what started has stopped.
        """
        await run_services(self.services, shutdown, while_running)

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
        working = self._running(Worker) is not None
        lines.append("worker: " + ("running" if working else "off"))
        if working and self.registry.jobs:
            jobs = ", ".join(
                f"{job.name.removeprefix(MODULE_PREFIX)} ({job.trigger.describe()})"
                for job in self.registry.jobs.values()
            )
            lines.append(f"scheduled jobs ({self.settings.timezone}): {jobs}")
        if working:
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
    """Run until SIGTERM or SIGINT, or until a service fails; SIGHUP reloads the certificate.

    Tells systemd (`$NOTIFY_SOCKET`) READY=1 once every listener is bound, and
    STOPPING=1 when a stop begins. A process without a certificate (a worker)
    has nothing to reload, and says so on SIGHUP.

    `more_lines` adds to what is announced once the server listens (the demo's
    mail-client settings, say); `resolver` replaces the network's DNS. Raises
    `ServiceFailed` once everything has stopped, if a service failed.
    """
    return_big_blocks_to_the_system()
    server = Server(settings, database, receive=receive, work=work, resolver=resolver)
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def while_running() -> None:
        freeze_start_up_objects()
        loop.add_signal_handler(signal.SIGTERM, shutdown.set)
        loop.add_signal_handler(signal.SIGINT, shutdown.set)
        loop.add_signal_handler(signal.SIGHUP, _reload, server)
        # Off the loop: the demo's lines make its account, once every listener is bound.
        extra = await asyncio.to_thread(more_lines, server) if more_lines is not None else []
        for line in [*server.start_up_lines(), *extra, "ready"]:
            announce(line)
        notify(READY)
        await shutdown.wait()
        notify(STOPPING)
        log.info("stopping: no new connections; letting transactions in flight finish")

    try:
        await server.run(shutdown, while_running)
    finally:
        for signal_number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signal_number)
    log.info("stopped")


def _reload(server: Server) -> None:
    if server.tls is None:
        log.info("SIGHUP: nothing to reload (this process has no certificate)")
        return
    server.tls.reload()


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
