"""What a mail client needs to know to use this server, as text and as Thunderbird's autoconfig.

`client_servers` lists the incoming and outgoing servers; `autoconfig_document`
writes them in the format Thunderbird (and other clients) fetch from
`autoconfig.<domain>`; `AutoconfigListener` serves that document over HTTP.
"""

from mailcmd.operations.autoconfig.document import (
    AUTOCONFIG_PATHS,
    CLIENT_LISTENERS,
    ClientServer,
    autoconfig_document,
    client_hostname,
    client_servers,
    describe_servers,
)
from mailcmd.operations.autoconfig.listener import AutoconfigListener

__all__ = [
    "AUTOCONFIG_PATHS",
    "CLIENT_LISTENERS",
    "AutoconfigListener",
    "ClientServer",
    "autoconfig_document",
    "client_hostname",
    "client_servers",
    "describe_servers",
]
