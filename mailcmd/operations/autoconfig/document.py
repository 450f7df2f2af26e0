"""The servers a mail client uses, and the autoconfig document that describes them."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

from mailcmd.settings import Settings

# Where Thunderbird looks: on autoconfig.<domain>, and on the domain itself.
AUTOCONFIG_PATHS = ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml")
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 - compared with, not bound to


@dataclass(frozen=True)
class ClientServer:
    """One server a client is told about: IMAP or SMTP, where, and how it is secured."""

    protocol: Literal["IMAP", "SMTP"]
    hostname: str
    port: int
    security: Literal["SSL/TLS", "STARTTLS"]


def client_hostname(settings: Settings) -> str:
    """The name clients should connect to: `autoconfig.hostname`, else where SMTP listens,
    else the default domain (one name, whatever domain the client's address is at)."""
    if settings.autoconfig.hostname:
        return settings.autoconfig.hostname
    host = settings.smtp.host
    return settings.domain if host in _WILDCARD_HOSTS else host


# The listeners a mail client is told about, implicit TLS first, as protocol and security.
CLIENT_LISTENERS: dict[str, tuple[Literal["IMAP", "SMTP"], Literal["SSL/TLS", "STARTTLS"]]] = {
    "imaps": ("IMAP", "SSL/TLS"),
    "imap": ("IMAP", "STARTTLS"),
    "submissions": ("SMTP", "SSL/TLS"),
    "submission": ("SMTP", "STARTTLS"),
}


def client_servers(settings: Settings, ports: Mapping[str, int]) -> list[ClientServer]:
    """The incoming (IMAP) and outgoing (SMTP) servers on `ports`, implicit TLS first.

    `ports` holds the listeners' ports by name, as bound; listeners it lacks are
    left out.
    """
    hostname = client_hostname(settings)
    return [
        ClientServer(protocol, hostname, ports[name], security)
        for name, (protocol, security) in CLIENT_LISTENERS.items()
        if name in ports
    ]


def describe_servers(settings: Settings, ports: Mapping[str, int], login: str) -> list[str]:
    """The servers on `ports` as lines for a person setting up a mail client by hand."""
    lines = []
    for server in client_servers(settings, ports):
        direction = "incoming" if server.protocol == "IMAP" else "outgoing"
        lines.append(
            f"{direction} {server.protocol}: {server.hostname} port {server.port},"
            f" {server.security}, normal password, user name {login}"
        )
    return lines


def autoconfig_document(
    settings: Settings, ports: Mapping[str, int], domain: str | None = None
) -> str:
    """Thunderbird's autoconfig XML (clientConfig version 1.1) for the servers on `ports`,
    naming `domain` (default: the default domain) as the provider's.

    Every domain's document names the same servers: one mailcmd answers them all.
    """
    domain = escape(domain or settings.domain)
    servers = []
    for server in client_servers(settings, ports):
        element = "incomingServer" if server.protocol == "IMAP" else "outgoingServer"
        socket_type = "SSL" if server.security == "SSL/TLS" else "STARTTLS"
        servers.append(
            f'    <{element} type="{server.protocol.lower()}">\n'
            f"      <hostname>{escape(server.hostname)}</hostname>\n"
            f"      <port>{server.port}</port>\n"
            f"      <socketType>{socket_type}</socketType>\n"
            "      <authentication>password-cleartext</authentication>\n"
            "      <username>%EMAILADDRESS%</username>\n"
            f"    </{element}>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<clientConfig version="1.1">\n'
        f'  <emailProvider id="{domain}">\n'
        f"    <domain>{domain}</domain>\n"
        f"    <displayName>{domain} (mailcmd)</displayName>\n"
        f"    <displayShortName>{domain}</displayShortName>\n"
        + "".join(servers)
        + "  </emailProvider>\n</clientConfig>\n"
    )
