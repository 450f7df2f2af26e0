"""Running mailcmd for tests: in a thread of the test process, or as a `mailcmd serve` process."""

import asyncio
import contextlib
import os
import queue
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from aiosmtpd.controller import Controller
from sqlalchemy import Engine, FromClause, func, select

from mailcmd.db.database import open_database
from mailcmd.db.models import InboundMessage, QueueStatus
from mailcmd.identity.authenticity import StaticResolver, TxtResolver
from mailcmd.runtime.server import Server
from mailcmd.settings import Settings
from mailcmd.testing.threaded_server import ThreadedServer

T = TypeVar("T")

# Every wait on the network is bounded by this many seconds.
TIMEOUT = 15.0


def smtp_settings(
    state_dir: Path,
    database_url: str,
    auth: dict[str, Any] | None = None,
    imap: dict[str, Any] | None = None,
    **smtp: Any,
) -> Settings:
    """Settings for a test server on loopback ports the system picks, with overrides.

    `smtp`, `auth` and `imap` override those tables; `RunningServer.port` tells
    where each listener ended up.
    """
    ports = {"submission_port": 0, "smtps_port": 0}
    imap_ports = {"port": 0, "tls_port": 0}
    return Settings(
        domain="app.localhost",
        state_dir=state_dir,
        database_url=database_url,
        smtp={"host": "127.0.0.1", **ports, **smtp},
        imap={**imap_ports, **(imap or {})},
        auth=auth or {},
    )


@dataclass
class RunningServer:
    """A mailcmd server on its own event loop in a thread, and clients for it."""

    settings: Settings
    threaded: ThreadedServer
    _clients: list[smtplib.SMTP] = field(default_factory=list)

    @property
    def server(self) -> Server:
        """The running server."""
        return self.threaded.server

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the server runs on."""
        return self.threaded.loop

    def shut_down(self) -> None:
        """Begin to stop the server, as SIGTERM does; the block's end waits for the stop."""
        self.threaded.shut_down()

    @property
    def tls_client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's certificate."""
        return ssl.create_default_context(cafile=str(self.server.tls.files.cert))

    def port(self, name: str) -> int:
        """Return the port the listener `name` is bound to."""
        return self.server.ports[name]

    def submission(self, starttls: bool = True) -> smtplib.SMTP:
        """Return a client on the submission port, after EHLO (and STARTTLS and EHLO)."""
        client = smtplib.SMTP("127.0.0.1", self.port("submission"), timeout=TIMEOUT)
        self._clients.append(client)
        client.ehlo("client.test")
        if starttls:
            client.starttls(context=self.tls_client_context)
            client.ehlo("client.test")
        return client

    def submissions(self) -> smtplib.SMTP_SSL:
        """Return a client on the implicit-TLS port, after EHLO."""
        client = smtplib.SMTP_SSL(
            "127.0.0.1", self.port("submissions"), timeout=TIMEOUT, context=self.tls_client_context
        )
        self._clients.append(client)
        client.ehlo("client.test")
        return client

    def close_clients(self) -> None:
        """Close every client a test opened."""
        for client in self._clients:
            with contextlib.suppress(OSError):
                client.close()


@contextmanager
def running_server(
    settings: Settings, work: bool = False, resolver: TxtResolver | None = None
) -> Iterator[RunningServer]:
    """Run a mailcmd server for `settings` in a thread until the block ends.

    The worker is off unless `work`: receiver tests see the queue as the receiver
    left it.
    """
    database = open_database(settings.database_url)
    # Tests never ask the network's DNS: an empty static resolver knows no domain.
    server = Server(
        settings,
        database,
        work=work,
        resolver=resolver or StaticResolver({}),
        grace_seconds=1.0,
    )
    threaded = ThreadedServer(server, TIMEOUT)
    try:
        threaded.start()
        running = RunningServer(settings=settings, threaded=threaded)
        try:
            yield running
        finally:
            running.close_clients()
            threaded.stop()
    finally:
        database.close()


@dataclass
class ServeProcess:
    """`mailcmd serve` running as a separate process, and what it printed so far."""

    process: subprocess.Popen[str]
    lines: list[str]
    # What the process logged; read continuously so that a full pipe never blocks it.
    errors: list[str] = field(default_factory=list)
    _error_reader: threading.Thread | None = None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send `sig` and return the exit code."""
        self.process.send_signal(sig)
        return self.process.wait(TIMEOUT)

    def port(self, name: str) -> int:
        """The port the listener `name` is bound to, as its start-up line says."""
        prefix = f"listening: {name} on "
        line = next(line for line in self.lines if line.startswith(prefix))
        return int(line.removeprefix(prefix).split(" ", 1)[0].rsplit(":", 1)[1])

    def logged(self) -> str:
        """Everything the process wrote to stderr, once it has exited."""
        self.process.wait(TIMEOUT)
        if self._error_reader is not None:
            self._error_reader.join(TIMEOUT)
        return "".join(self.errors)


def raw_http(port: int, request: bytes) -> bytes:
    """Send `request` as it is to an HTTP listener on loopback; all it answers, to its close."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@contextmanager
def serve_process(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[ServeProcess]:
    """Start `command` (a `mailcmd serve`), wait until it says it is ready, stop it after."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    running = ServeProcess(process=process, lines=lines)
    # A thread reads stdout, so that every wait here can have a deadline.
    received: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process, received), daemon=True)
    reader.start()
    running._error_reader = threading.Thread(
        target=_collect, args=(process.stderr, running.errors), daemon=True
    )
    running._error_reader.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = received.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"mailcmd serve did not get ready: {lines}") from None
            if line is None:
                raise AssertionError(f"mailcmd serve exited early: {lines} {running.logged()}")
            lines.append(line)
            if line.endswith("ready"):
                break
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(TIMEOUT)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _collect(stream: IO[str] | None, into: list[str]) -> None:
    if stream is not None:
        for line in stream:
            into.append(line)


def _read_lines(process: subprocess.Popen[str], received: "queue.Queue[str | None]") -> None:
    assert process.stdout is not None
    for line in process.stdout:
        received.put(line.rstrip("\n"))
    received.put(None)


def mailcmd_command() -> list[str]:
    """The command line that runs this checkout's `mailcmd`."""
    return [sys.executable, "-m", "mailcmd"]


def worker_environment(database_url: str, tmp_path: Path, **more: str) -> dict[str, str]:
    """`mailcmd serve` or `mailcmd worker` on `database_url`, state in `tmp_path / "state"`.

    Logins on implicit TLS only (no submission port), every other listener as
    `clean_environment` has it, and `more` settings.
    """
    return clean_environment(
        MAILCMD_DATABASE_URL=database_url,
        MAILCMD_STATE_DIR=str(tmp_path / "state"),
        MAILCMD_SMTP__SUBMISSION_PORT="off",
        **more,
    )


def state_tls(tmp_path: Path) -> ssl.SSLContext:
    """A client's TLS context that trusts the certificate a process made in `tmp_path / "state"`."""
    return ssl.create_default_context(cafile=str(tmp_path / "state" / "tls" / "dev-cert.pem"))


def count_rows(engine: Engine, table: FromClause) -> int:
    """How many rows `table` has now."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def first_inbound_status(engine: Engine) -> QueueStatus | None:
    """The status of the inbound queue's first message, if there is one."""
    with engine.connect() as connection:
        return connection.execute(
            select(InboundMessage.status).order_by(InboundMessage.id)
        ).scalar()


def inbound_attempts(engine: Engine) -> list[tuple[QueueStatus, int]]:
    """Each inbound message's status and attempts, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(InboundMessage.status, InboundMessage.attempts).order_by(InboundMessage.id)
        )
        return [(status, attempts) for status, attempts in rows]


def clean_environment(**overrides: str) -> dict[str, str]:
    """The process environment without MAILCMD_ settings, plus `overrides`.

    Every listener is on a port the system picks (`serve_port` reads which from the
    start-up lines), and the IMAP ones are off, unless `overrides` say otherwise.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILCMD_")}
    env.update(
        MAILCMD_SMTP__SUBMISSION_PORT="0",
        MAILCMD_SMTP__SMTPS_PORT="0",
        MAILCMD_IMAP__PORT="off",
        MAILCMD_IMAP__TLS_PORT="off",
    )
    env.update(overrides)
    return env


class RawSocket:
    """A byte-level connection to a loopback port, for protocol tests of any server."""

    def __init__(self, port: int, tls_context: ssl.SSLContext | None = None) -> None:
        """Connect to 127.0.0.1:`port`, through TLS at once if `tls_context` is given."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        if tls_context is not None:
            sock = tls_context.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self._buffer = b""

    def send(self, data: bytes) -> None:
        """Send `data` exactly as given."""
        self.sock.sendall(data)

    def starttls(self, context: ssl.SSLContext) -> None:
        """Start TLS on the connection (after the server said yes to STARTTLS)."""
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")
        self._buffer = b""

    def closed_by_server(self) -> bool:
        """Whether the server has closed the connection (reading gives end of file)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


class RawClient(RawSocket):
    """A byte-level SMTP client for what smtplib will not send: abuse and malformed input."""

    def reply(self) -> str:
        """Read one whole reply (every line of a multi-line one); '' if the server closed."""
        lines = []
        while True:
            line = self._line()
            if not line:
                return "\n".join(lines)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def command(self, line: str) -> str:
        """Send one command line and return the reply."""
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def _line(self) -> str:
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return ""
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8", errors="replace")


def wait_until(condition: Callable[[], T | None], what: str) -> T:
    """Return `condition()`'s first truthy value, asking again until `TIMEOUT` passes.

    For progress that another thread or process makes without any event to await.
    """
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"not reached in {TIMEOUT:g} s: {what}")


@dataclass
class Sink:
    """A relay on loopback that answers RCPT as told and records what it accepts."""

    answers: list[str] = field(default_factory=list)
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    # The SMTP sessions clients opened (one per connection), and how many said QUIT.
    sessions: list[Any] = field(default_factory=list)
    quits: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.sessions.append(server)
        return responses

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 2.0.0 Bye"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        answer = self.answers.pop(0) if self.answers else "250 2.1.5 OK"
        if answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.arrived.set()
        return "250 2.0.0 queued"

    def hang_up(self) -> None:
        """Close every connection from this side, as a relay's idle time-out does."""
        for server in self.sessions:
            closed = asyncio.run_coroutine_threadsafe(_close(server), server.loop)
            closed.result(TIMEOUT)


async def _close(server: Any) -> None:
    server.transport.close()


class AnyPortController(Controller):
    """aiosmtpd's controller on a port the system picks (port 0), which it then knows."""

    def _trigger_server(self) -> None:
        # The controller greets its own server to see that it runs: on the bound port.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def relay_sink() -> Iterator[tuple[Sink, int]]:
    """Run a `Sink` on a free loopback port for the block; yields it and the port."""
    handler = Sink()
    controller = AnyPortController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()
