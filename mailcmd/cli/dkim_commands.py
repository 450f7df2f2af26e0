"""`mailcmd dkim ...`: the keys outbound mail is signed with, and the DNS records for them."""

from typing import Annotated

import typer

from mailcmd.cli.state import RefusedError, chosen_domain, cli_state
from mailcmd.outbound import dkim
from mailcmd.settings import Settings

app = typer.Typer(
    help="Manage the DKIM keys outbound mail is signed with, one per domain.",
    no_args_is_help=True,
)

SelectorOption = Annotated[
    str | None,
    typer.Option(
        "--selector",
        "-s",
        help="The key's selector (default: the [dkim] selector setting, `mailcmd`).",
        show_default=False,
    ),
]
DomainOption = Annotated[
    str | None,
    typer.Option(
        "--domain",
        "-d",
        help="The domain whose key it is, one of the domains setting (default: the first).",
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
    domain: DomainOption = None,
) -> None:
    """Make a domain's signing key under state_dir and print the DNS record to publish for it."""
    settings = cli_state(ctx).settings
    if ed25519 and bits is not None:
        raise RefusedError("--bits sizes RSA keys; an Ed25519 key has one size")
    key_domain = chosen_domain(settings, domain)
    chosen = selector or settings.dkim.selector
    try:
        key = dkim.generate_key(
            settings.state_dir,
            chosen,
            "ed25519" if ed25519 else "rsa",
            bits or dkim.DEFAULT_RSA_BITS,
            domain=key_domain,
            force=force,
            path=dkim.domain_key_path(settings, chosen, key_domain),
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
def show(ctx: typer.Context, selector: SelectorOption = None, domain: DomainOption = None) -> None:
    """Print the DNS record of a domain's signing key again."""
    settings = cli_state(ctx).settings
    key_domain = chosen_domain(settings, domain)
    chosen = selector or settings.dkim.selector
    try:
        key = dkim.load_key(settings, chosen, key_domain)
    except dkim.DkimError as error:
        raise RefusedError(str(error)) from None
    if key is None:
        options = "" if selector is None else f" --selector {chosen}"
        if domain is not None:
            options += f" --domain {key_domain}"
        path = dkim.domain_key_path(settings, chosen, key_domain)
        raise RefusedError(
            f"no DKIM key for selector {chosen} in {path}; `mailcmd dkim keygen{options}` makes one"
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
    if (
        key.domain == settings.domain
        and settings.dkim.key_file is not None
        and settings.dkim.key_file != key.private_key_file
    ):
        return (
            f"[dkim] key_file is {settings.dkim.key_file}, so mailcmd signs with that key,"
            " not this one."
        )
    return f"mailcmd signs outbound mail from {key.domain} with this key once (re)started."
