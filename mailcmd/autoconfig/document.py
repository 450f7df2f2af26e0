"""The servers a mail client uses, and the autoconfig document that describes them."""

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
    """The name clients should connect to: `autoconfig.hostname`, else where SMTP listens."""
    if settings.autoconfig.hostname:
        return settings.autoconfig.hostname
    host = settings.smtp.host
    return settings.domain if host in _WILDCARD_HOSTS else host


def client_servers(settings: Settings) -> list[ClientServer]:
    """The incoming (IMAP) and outgoing (SMTP) servers, implicit TLS first; ports 0 left out."""
    hostname = client_hostname(settings)
    candidates: list[ClientServer] = [
        ClientServer("IMAP", hostname, settings.imap.tls_port, "SSL/TLS"),
        ClientServer("IMAP", hostname, settings.imap.port, "STARTTLS"),
        ClientServer("SMTP", hostname, settings.smtp.smtps_port, "SSL/TLS"),
        ClientServer("SMTP", hostname, settings.smtp.submission_port, "STARTTLS"),
    ]
    return [server for server in candidates if server.port]


def describe_servers(settings: Settings, login: str) -> list[str]:
    """The servers as lines for a person setting up a mail client by hand."""
    lines = []
    for server in client_servers(settings):
        direction = "incoming" if server.protocol == "IMAP" else "outgoing"
        lines.append(
            f"{direction} {server.protocol}: {server.hostname} port {server.port},"
            f" {server.security}, normal password, user name {login}"
        )
    return lines


def autoconfig_document(settings: Settings) -> str:
    """Thunderbird's autoconfig XML (clientConfig version 1.1) for the domain's addresses."""
    domain = escape(settings.domain)
    servers = []
    for server in client_servers(settings):
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
