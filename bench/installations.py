"""The systems under measurement: the floor and mailcmd installations on SQLite or PostgreSQL.

An installation is a state folder, a fresh database holding one account (the
sender of the load), the settings as `MAILCMD_*` variables, and free ports.
"""

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

from bench.processes import ServerProcess, free_port
from mailcmd.db.database import Database, open_database
from mailcmd.identity.accounts import create_account
from mailcmd.identity.verified_senders import add_external_address, confirm_external_address
from mailcmd.net.tls import CertificateFiles, development_certificate

DOMAIN = "app.localhost"
LOGIN = "alice@app.localhost"
PASSWORD = "bench-password-1234"  # noqa: S105 - the load's account in a scratch database
# Where the PostgreSQL part of the run creates its databases; its role needs CREATEDB.
POSTGRES_ENV = "MAILCMD_BENCH_POSTGRES"
# The runner's own connections name themselves, so that their backends are not counted.
RUNNER_APPLICATION = "mailcmd-bench-runner"
DEFAULT_POSTGRES = "postgresql://mailcmd_bench:mailcmd_bench@127.0.0.1/postgres"
UPGRADE_SECONDS = 120.0
# The load's account also sends from a confirmed address at another domain, whose
# SPF record (answered by `bench.target`) allows 127.0.0.1: mail from it on the MX
# port acts for the account, and its replies leave through the relay.
EXTERNAL_DOMAIN = "bench-external.example"
EXTERNAL_SENDER = f"alice@{EXTERNAL_DOMAIN}"
EXTERNAL_SPF = "v=spf1 ip4:127.0.0.1 -all"


@dataclass
class Installation:
    """One server to measure: how to start it and where it listens."""

    name: str
    kind: str  # "floor", "receive" or "end-to-end"
    engine: str  # "none", "sqlite" or "postgresql"
    server: ServerProcess
    # Port for plain mail without AUTH (the floor; mailcmd's MX port), and for STARTTLS+AUTH.
    plain_port: int
    submission_port: int
    database_url: str | None = None
    # Processes that run beside the server (the counting sink), started before it.
    extra: list[ServerProcess] = field(default_factory=list)
    # Where replies arrive when they leave by SMTP: the counting sink's log.
    sink_log: Path | None = None
    # End-to-end loads go unauthenticated to `plain_port` from this sender, and only
    # plain loads are sent (no TLS, no AUTH on the peer; a verified sender on the MX port).
    plain_sender: str | None = None

    def start(self) -> None:
        """Start the processes beside the server, then the server."""
        for process in self.extra:
            process.start()
        self.server.start()

    def stop(self) -> None:
        """Stop the server, then the processes beside it."""
        self.server.stop()
        for process in self.extra:
            process.stop()


def certificate(folder: Path) -> CertificateFiles:
    """The one certificate every server of the run uses, so that TLS costs the same everywhere."""
    return development_certificate(folder, DOMAIN)


def floor(folder: Path, tls: CertificateFiles) -> Installation:
    """The raw aiosmtpd floor, on one port for plain and STARTTLS clients."""
    port = free_port()
    command = [sys.executable, "-m", "bench.floor", "--port", str(port)]
    command += ["--cert", str(tls.cert), "--key", str(tls.key)]
    server = ServerProcess("floor", command, dict(os.environ), folder / "floor.log")
    return Installation("floor", "floor", "none", server, port, port)


def postgres_admin_url() -> str:
    """The URL of the PostgreSQL database the runner creates its own databases from."""
    return os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES)


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL part cannot run, or None when it can."""
    url = make_url(postgres_admin_url())
    try:
        with psycopg.connect(_conninfo(url), connect_timeout=3, autocommit=True) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        return f"cannot connect to {url.render_as_string()} ({POSTGRES_ENV}): {reason}"
    return None


def fresh_postgres(name: str) -> str:
    """Create the PostgreSQL database `name` anew and return its URL."""
    url = make_url(postgres_admin_url())
    with psycopg.connect(_conninfo(url), connect_timeout=5, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def mailcmd(
    folder: Path,
    name: str,
    *,
    tls: CertificateFiles,
    database_url: str | None,
    work: bool,
    overrides: dict[str, str] | None = None,
) -> Installation:
    """A mailcmd installation: state folder, database with the load's account, settings."""
    state = folder / name
    state.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{state / 'mailcmd.db'}"
    mx_port, submission_port = free_port(), free_port()
    env = settings_environment(state, url, tls, mx_port, submission_port)
    env.update(overrides or {})
    prepare_database(url, env)
    command = [sys.executable, "-m", "bench.target"] + ([] if work else ["--no-worker"])
    server = ServerProcess(name, command, env, folder / f"{name}.log")
    engine = "sqlite" if url.startswith("sqlite") else "postgresql"
    kind = "end-to-end" if work else "receive"
    return Installation(name, kind, engine, server, mx_port, submission_port, url)


def mailcmd_relay(
    folder: Path,
    name: str,
    *,
    tls: CertificateFiles,
    database_url: str | None,
    overrides: dict[str, str] | None = None,
) -> Installation:
    """mailcmd end to end whose replies leave through `[relay]` to a counting sink.

    The load comes on the MX port from `EXTERNAL_SENDER`, a confirmed address of
    the load's account whose SPF passes aligned: the command acts for the account,
    and the reply, to an address of another domain, goes to the relay.
    """
    sink, sink_port, sink_log = counting_sink(folder, name)
    relay = {
        "MAILCMD_RELAY__HOST": "127.0.0.1",
        "MAILCMD_RELAY__PORT": str(sink_port),
        "MAILCMD_RELAY__STARTTLS": "off",
        **(overrides or {}),
    }
    system = mailcmd(folder, name, tls=tls, database_url=database_url, work=True, overrides=relay)
    assert system.database_url is not None
    confirm_external_sender(system.database_url)
    system.extra.append(sink)
    system.sink_log = sink_log
    system.plain_sender = EXTERNAL_SENDER
    return system


def counting_sink(folder: Path, name: str) -> tuple[ServerProcess, int, Path]:
    """The counting sink (`bench.sink`) for installation `name`, its port, its log of replies."""
    port, log = free_port(), folder / f"{name}-sink.replies"
    command = [sys.executable, "-m", "bench.sink", "--port", str(port), "--log", str(log)]
    sink = ServerProcess(f"{name}-sink", command, dict(os.environ), folder / f"{name}-sink.log")
    return sink, port, log


def confirm_external_sender(url: str) -> None:
    """Declare and confirm `EXTERNAL_SENDER` as an address of the load's account."""
    database = open_database(url)
    try:
        with database.sessions.begin() as session:
            pending = add_external_address(session, LOGIN, EXTERNAL_SENDER, (DOMAIN,))
            confirm_external_address(session, pending.address, pending.code)
    finally:
        database.close()


def settings_environment(
    state: Path, url: str, tls: CertificateFiles, mx_port: int, submission_port: int
) -> dict[str, str]:
    """The `MAILCMD_*` variables of a benchmark installation, over this process's environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILCMD_")}
    env.update(
        {
            "MAILCMD_DOMAIN": DOMAIN,
            "MAILCMD_STATE_DIR": str(state),
            "MAILCMD_DATABASE_URL": url,
            "MAILCMD_SMTP__HOST": "127.0.0.1",
            "MAILCMD_SMTP__SUBMISSION_PORT": str(submission_port),
            "MAILCMD_SMTP__SMTPS_PORT": "off",
            "MAILCMD_SMTP__MX_PORT": str(mx_port),
            "MAILCMD_SMTP__TLS_CERT": str(tls.cert),
            "MAILCMD_SMTP__TLS_KEY": str(tls.key),
            # The idle-connection test holds 1,000 connections and then opens one more.
            "MAILCMD_SMTP__MAX_CONNECTIONS": "2000",
            # One account sends every message of the run, and receives every reply.
            "MAILCMD_SMTP__ACCOUNT_MESSAGE_RATE_LIMIT": "1000000000",
            "MAILCMD_WORKER__REPLY_RATE_LIMIT": "1000000000",
            # Several installations run at once: the mailbox server (where this mailcmd
            # has one) would take the same fixed ports in each.
            "MAILCMD_IMAP__PORT": "off",
            "MAILCMD_IMAP__TLS_PORT": "off",
        }
    )
    return env


def prepare_database(url: str, env: dict[str, str]) -> None:
    """Bring the schema of `url` to head and add the load's account.

    `env` holds the installation's settings, for `mailcmd db upgrade`.
    """
    if not url.startswith("sqlite"):
        # mailcmd upgrades only an embedded SQLite schema by itself; on PostgreSQL
        # the operator runs `db upgrade`, which moves mailcmd's tables and the app's.
        command = [sys.executable, "-m", "mailcmd", "db", "upgrade"]
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=UPGRADE_SECONDS)
    database = open_database(url)
    try:
        with database.sessions.begin() as session:
            create_account(session, LOGIN, PASSWORD)
    finally:
        database.close()


def open_installation_database(installation: Installation) -> Database:
    """Open the database of a mailcmd installation, for reading what it stored.

    On PostgreSQL the connections name themselves, so that their backends' CPU is
    not counted as the server's.
    """
    assert installation.database_url is not None
    url = installation.database_url
    if not url.startswith("sqlite"):
        named = make_url(url).update_query_dict({"application_name": RUNNER_APPLICATION})
        url = named.render_as_string(hide_password=False)
    return open_database(url)


def _conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
