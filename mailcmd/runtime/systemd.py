"""Telling systemd how the process stands, when systemd asks for it (`Type=notify`).

systemd's protocol (sd_notify(3)) is one datagram of `KEY=value` lines to the Unix
socket named by `$NOTIFY_SOCKET`; a few lines here rather than a dependency.
"""

import logging
import os
import socket

log = logging.getLogger(__name__)

READY = "READY=1"
STOPPING = "STOPPING=1"


def notify(state: str) -> bool:
    """Send `state` to systemd; False when not started by it (no `$NOTIFY_SOCKET`).

    A socket that cannot be reached is logged, never raised: the service runs on
    whether or not its manager hears.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        # An abstract socket, named with a leading NUL byte.
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.connect(address)
            sender.sendall(state.encode())
    except OSError as error:
        log.warning("could not tell systemd %s at %s: %s", state, address, error)
        return False
    return True
