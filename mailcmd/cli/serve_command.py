"""`mailcmd serve` and `mailcmd worker`: run the server, or only its worker, in the foreground."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from mailcmd.cli.state import cli_state
from mailcmd.db.database import open_database
from mailcmd.operations.demo import demo_lines, ensure_demo_account
from mailcmd.operations.logs import configure_logging
from mailcmd.runtime.server import Server
from mailcmd.runtime.server import serve as run_server
from mailcmd.settings import ENV_PREFIX


def serve(
    ctx: typer.Context,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Only receive; `mailcmd worker` processes.")
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Make a demo account (once) and print how to set up a mail client."
        ),
    ] = False,
) -> None:
    """Run the SMTP and IMAP servers and the worker until SIGTERM or Ctrl-C.

    An embedded SQLite schema is upgraded first; a PostgreSQL one must be current.
    """
    _run(ctx, receive=True, work=not no_worker, demo=demo)


def worker(
    ctx: typer.Context,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            help="Serve /metrics and /healthz on this port (0: any free one) at metrics.host.",
        ),
    ] = None,
) -> None:
    """Run only the worker (for more workers beside `mailcmd serve --no-worker`).

    `[metrics] port` is `mailcmd serve`'s: each worker process has a port of its own.
    """
    _run(ctx, receive=False, work=True, metrics_port=metrics_port)


def _run(
    ctx: typer.Context,
    *,
    receive: bool,
    work: bool,
    demo: bool = False,
    metrics_port: int | None = None,
) -> None:
    loaded = cli_state(ctx).loaded
    settings = loaded.settings
    if not receive:
        # `[metrics] port` is serve's: workers beside it on one host would all ask
        # for that port, so a worker listens only where its command line says.
        metrics = settings.metrics.model_copy(update={"port": metrics_port})
        settings = settings.model_copy(update={"metrics": metrics})
    configure_logging(settings.log_format)
    # First, so that an operator reading a start-up error knows which settings led to it.
    typer.echo(settings_origin(loaded.config_file))
    # A handler runs inside its message's write transaction: on SQLite the other
    # processes' writers wait for it rather than fail.
    database = open_database(settings.database_url, settings.worker.handler_timeout)
    try:
        more_lines: Callable[[Server], list[str]] | None = None
        if demo:

            def more_lines(server: Server) -> list[str]:
                # Made only now that every listener is bound: a start that fails on a
                # taken port leaves no account whose password nobody saw.
                with database.writing() as session:
                    account = ensure_demo_account(session, settings)
                    session.commit()
                fingerprint = server.tls.fingerprint if server.tls is not None else None
                return demo_lines(
                    settings, server.ports, account, fingerprint, server.registry.app_mailbox_names
                )

        asyncio.run(
            run_server(
                settings,
                database,
                announce=lambda line: typer.echo(line),
                receive=receive,
                work=work,
                more_lines=more_lines,
            )
        )
    finally:
        database.close()


def settings_origin(config_file: Path | None) -> str:
    """The start-up line that says where the settings came from."""
    environment = f"{ENV_PREFIX}* environment variables"
    if config_file is None:
        return f"settings: no settings file; defaults and {environment}"
    return f"settings: {config_file.resolve()} and {environment}"
