"""`mailcmd autoconfig`: the mail-client autoconfiguration document, as the listener serves it."""

from typing import Annotated

import typer

from mailcmd.cli.state import RefusedError, chosen_domain, cli_state
from mailcmd.operations.autoconfig import CLIENT_LISTENERS, autoconfig_document
from mailcmd.settings import LISTENER_PORT_KEYS


def autoconfig(
    ctx: typer.Context,
    domain: Annotated[
        str | None,
        typer.Option(
            "--domain",
            "-d",
            help="The domain the document is for, one of the domains setting (default: the first).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print Thunderbird's autoconfig XML for this server (serve it at autoconfig.<domain>).

    Refuses when a port the document names is 0: that one is known only once
    `mailcmd serve` has bound it (its autoconfig listener serves the document then).
    """
    settings = cli_state(ctx).settings
    chosen = chosen_domain(settings, domain)
    ports = {name: port for name, port in settings.listener_ports().items() if port is not None}
    picked_at_start = [
        LISTENER_PORT_KEYS[name] for name in CLIENT_LISTENERS if ports.get(name) == 0
    ]
    if picked_at_start:
        raise RefusedError(
            f"{', '.join(picked_at_start)}: 0 (any free port) is known only once the server"
            " runs; set a fixed port to print the document"
        )
    typer.echo(autoconfig_document(settings, ports, chosen), nl=False)
