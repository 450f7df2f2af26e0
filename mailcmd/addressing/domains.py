"""The domains mailcmd answers for: checked for the settings, and told apart in addresses.

Every domain's mailboxes are the same app's: `tasks@team.example` and
`tasks@app.example` lead to one mailbox. What answers a mail comes from the domain
the mail was written to, so someone who writes to `tasks@team.example` hears from
`tasks@team.example` and their reply comes back there. Mail that answers no mail
(a scheduled job's, an operator's) comes from the default domain, the first.
Domains are kept in their ASCII (IDNA) form, lower case, as addresses are.
"""

from collections.abc import Sequence

from mailcmd.addressing.addresses import InvalidAddressError, normalise_domain

# The domain of an installation that names none: `.localhost` never leaves the machine.
DEFAULT_DOMAIN = "app.localhost"


def checked_domain(text: str) -> str:
    """Return the domain `text` in its stored form, or raise `ValueError` saying why not."""
    try:
        return normalise_domain(text.strip())
    except InvalidAddressError:
        raise ValueError(
            f"{text!r} is not a domain name (labels of letters, digits and hyphens,"
            " dots between them)"
        ) from None


def checked_domains(names: Sequence[str], domain: str | None) -> tuple[str, ...]:
    """Return `names` in their stored form, or raise `ValueError` saying what is wrong.

    A domain may be listed once (`App.Example` and `app.example` are one), and
    `domain`, if it is set beside them, must be their first: both name the default.
    """
    checked: list[str] = []
    for name in names:
        stored = checked_domain(name)
        if stored in checked:
            raise ValueError(f"{stored} is listed twice")
        checked.append(stored)
    if domain is not None and checked and checked[0] != domain:
        raise ValueError(
            f"the default domain is the first of domains ({checked[0]}), but domain is"
            f" {domain}: set one of the two, or list {domain} first"
        )
    return tuple(checked)


def one_of_ours(text: str, domains: tuple[str, ...]) -> str:
    """Return the domain `text` in its stored form if it is one of `domains`, or raise
    `ValueError` saying why not."""
    domain = checked_domain(text)
    if domain not in domains:
        raise ValueError(
            f"{domain} is not one of mailcmd's domains ({', '.join(domains)});"
            " add it to the domains setting first"
        )
    return domain


def domain_of(address: str) -> str:
    """The domain of the stored address `address` (`app.example` for `tasks@app.example`)."""
    return address.rpartition("@")[2]


def is_ours(address: str, domains: tuple[str, ...]) -> bool:
    """Tell whether the stored address `address` is at one of `domains`."""
    return domain_of(address) in domains


def addressed_domain(address: str, domains: tuple[str, ...]) -> str:
    """The domain of ours that mail to `address` answers from: its own if it is one of
    `domains`, else the default (the first)."""
    domain = domain_of(address)
    return domain if domain in domains else domains[0]
