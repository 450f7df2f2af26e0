"""What every group of listening sockets answers alike, whatever protocol they speak."""

import asyncio
import os
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from mailcmd.errors import MailcmdError
from mailcmd.settings import LISTENER_PORT_KEYS

T = TypeVar("T")


class ListenError(MailcmdError):
    """A listener could not take its address; the message is one line for the operator."""


async def bound(name: str, host: str, port: int, binding: Awaitable[T]) -> T:
    """Return what `binding` (the start of listener `name` on `host:port`) returns.

    Raises `ListenError` naming the address and the setting that asked for it when
    the address cannot be taken (in use, not ours, a host that does not resolve).
    """
    try:
        return await binding
    except OSError as error:
        # asyncio wraps the reason in a sentence of its own; the errno says it plainly.
        if error.errno is not None and error.errno > 0:
            reason = os.strerror(error.errno)
        else:
            reason = error.strerror or str(error)
        key = LISTENER_PORT_KEYS[name]
        raise ListenError(f"cannot listen on {host}:{port} ({key}): {reason.lower()}") from None


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


def serving_names(servers: Mapping[str, asyncio.Server]) -> set[str]:
    """Return the names of the listeners that accept connections now."""
    return {name for name, server in servers.items() if server.is_serving()}
