"""What every group of listening sockets answers alike, whatever protocol they speak."""

import asyncio
from collections.abc import Mapping


def listening_addresses(servers: Mapping[str, asyncio.Server]) -> dict[str, str]:
    """Return each listener's name and the `host:port` it is bound to."""
    found = {}
    for name, server in servers.items():
        host, port = server.sockets[0].getsockname()[:2]
        found[name] = f"{host}:{port}"
    return found


def stop_listening(servers: Mapping[str, asyncio.Server]) -> None:
    """Close the listening sockets; connections already open go on."""
    for server in servers.values():
        server.close()
