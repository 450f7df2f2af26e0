"""`mailcmd dkim ...`: the key outbound mail is signed with, and the DNS record for it."""

from typing import Annotated

import typer

from mailcmd import dkim
from mailcmd.cli.state import RefusedError, cli_state
from mailcmd.settings import Settings

app = typer.Typer(help="Manage the DKIM key outbound mail is signed with.", no_args_is_help=True)

SelectorOption = Annotated[
    str | None,
    typer.Option(
        "--selector",
        "-s",
        help="The key's selector (default: the [dkim] selector setting, `mailcmd`).",
        show_default=False,
    ),
]


@app.command("keygen")
def keygen(
    ctx: typer.Context,
    selector: SelectorOption = None,
    bits: Annotated[
        int | None,
        typer.Option(
            "--bits",
            help=f"Size of the RSA key, {dkim.MIN_RSA_BITS} to {dkim.MAX_RSA_BITS}"
            f" (default {dkim.DEFAULT_RSA_BITS}).",
            show_default=False,
        ),
    ] = None,
    ed25519: Annotated[
        bool,
        typer.Option(
            "--ed25519",
            help="An Ed25519 key instead of RSA (RFC 8463; not every receiver checks these).",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing key with the same selector.")
    ] = False,
) -> None:
    """Make a signing key under state_dir and print the DNS record to publish for it."""
    settings = cli_state(ctx).settings
    if ed25519 and bits is not None:
        raise RefusedError("--bits sizes RSA keys; an Ed25519 key has one size")
    try:
        key = dkim.generate_key(
            settings.state_dir,
            selector or settings.dkim.selector,
            "ed25519" if ed25519 else "rsa",
            bits or dkim.DEFAULT_RSA_BITS,
            domain=settings.domain,
            force=force,
        )
    except dkim.DkimKeyExistsError as error:
        raise RefusedError(
            f"{error}; --force replaces it, and then the new record must be published"
        ) from None
    except dkim.DkimError as error:
        raise RefusedError(str(error)) from None
    typer.echo(f"wrote the private key to {key.private_key_file}; keep it secret")
    typer.echo(f"wrote the DNS record to {key.record_file}")
    typer.echo()
    _print_record(key)
    typer.echo()
    typer.echo(_when_used(settings, key))


@app.command("show")
def show(ctx: typer.Context, selector: SelectorOption = None) -> None:
    """Print the DNS record of a signing key again."""
    settings = cli_state(ctx).settings
    chosen = selector or settings.dkim.selector
    try:
        key = dkim.load_key(settings, chosen)
    except dkim.DkimError as error:
        raise RefusedError(str(error)) from None
    if key is None:
        raise RefusedError(
            f"no DKIM key for selector {chosen} in {dkim.key_path(settings.state_dir, chosen)};"
            f" `mailcmd dkim keygen{'' if selector is None else ' --selector ' + chosen}`"
            " makes one"
        )
    _print_record(key)


def _print_record(key: dkim.DkimKey) -> None:
    typer.echo(
        f"Publish this TXT record in the DNS of {key.domain}; receivers fetch the key"
        " there to check mailcmd's signatures:"
    )
    typer.echo()
    typer.echo(dkim.dns_record(key))
    typer.echo()
    typer.echo("In a DNS host's web form, the same record is:")
    typer.echo(f"name:  {key.record_name}")
    typer.echo(f"value: {key.record_value}")


def _when_used(settings: Settings, key: dkim.DkimKey) -> str:
    if key.selector != settings.dkim.selector:
        return (
            f"mailcmd signs with selector {settings.dkim.selector}; to sign with this key,"
            f' set `selector = "{key.selector}"` in [dkim] (or MAILCMD_DKIM__SELECTOR).'
        )
    if settings.dkim.key_file is not None and settings.dkim.key_file != key.private_key_file:
        return (
            f"[dkim] key_file is {settings.dkim.key_file}, so mailcmd signs with that key,"
            " not this one."
        )
    return f"mailcmd signs outbound mail from {key.domain} with this key once (re)started."
