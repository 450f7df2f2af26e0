"""Start the Salmon peer, tuned, and serve until SIGTERM.

Salmon's receiver is the standard library's `smtpd` on `asyncore`. Two settings
are changed here, from outside, so that the comparison is with Salmon at its
best rather than with its defaults: accepted sockets get TCP_NODELAY (without it
each 250 waits for Nagle's algorithm, about 50 ms per message on a kept
connection), and the listening socket's backlog is 128 instead of `smtpd`'s 5
(with 5, connections are dropped at 100 concurrent clients).
"""

import argparse
import os
import signal
import socket
from pathlib import Path

from salmon.server import Relay, SMTPChannel, SMTPReceiver

from bench.salmon_app.tasks import Tasks, open_engine, route_tasks

BACKLOG = 128


class TunedReceiver(SMTPReceiver):  # type: ignore[misc]
    """Salmon's SMTP receiver with TCP_NODELAY on every connection and a backlog of 128."""

    def __init__(self, host: str, port: int) -> None:
        """Listen on `host:port`."""
        super().__init__(host, port)
        # Listening again on a listening socket only changes its backlog.
        self.socket.listen(BACKLOG)

    def handle_accept(self) -> None:
        """Take a connection as Salmon does, with Nagle's algorithm off."""
        pair = self.accept()
        if pair is not None:
            connection, address = pair
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            SMTPChannel(self, connection, address)


def main() -> int:
    """Run the peer from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--relay-port", type=int, required=True)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--domain", default="app.localhost")
    arguments = parser.parse_args()
    relay = Relay(host=arguments.host, port=arguments.relay_port)
    route_tasks(Tasks(open_engine(arguments.database), relay, arguments.domain), arguments.domain)
    # The receiver's thread inherits the blocked signals; only this thread waits for them.
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    receiver = TunedReceiver(arguments.host, arguments.port)
    receiver.start()
    print(f"listening: salmon on {arguments.host}:{arguments.port}; ready", flush=True)
    signal.sigwait(stop)
    # asyncore's loop has no stop: every task was committed before its 250.
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
