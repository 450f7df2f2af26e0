"""A client that stops reading is let go: its session and the data it left unread go.

The bound: a client that asks for more than its socket takes, and reads nothing, is
dropped within `literal_timeout` plus the response's size at `literal_min_rate`; what
it left unread goes with the session (the kernel's socket buffer is bounded).
"""

import socket
import time

import pytest

from mailcmd.imap.listeners import ImapListeners
from tests.conftest import ALICE, PASSWORD, StartServer
from tests.imap_support import MESSAGE, deliver, raw_imap
from tests.servers import RunningServer, wait_until

LOGIN = b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode())
LITERAL_TIMEOUT = 1.0
MIN_RATE = 1024 * 1024
LARGE = MESSAGE + b"x" * 2_000_000
FETCHES = 20
SLACK_SECONDS = 2.0


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:
    """A server whose clients must take what it sends at 1 MiB/s, at most a second behind."""
    return start_server(
        max_message_size=4 * 1024 * 1024,
        imap={"literal_timeout": LITERAL_TIMEOUT, "literal_min_rate": MIN_RATE},
    )


def open_sessions(server: RunningServer) -> int:
    """How many IMAP sessions the server holds."""
    return len(server.server.service(ImapListeners).sessions)


def test_a_client_that_stops_reading_is_dropped_with_what_it_left_unread(
    server: RunningServer,
) -> None:
    deliver(server, LARGE)
    with raw_imap(server.port("imaps"), server.tls_client_context) as reader:
        reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert reader.command(b"a1", LOGIN)[-1].startswith(b"a1 OK")
        assert reader.command(b"a2", b"SELECT INBOX")[-1].startswith(b"a2 OK")
        # 40 MB asked for, and nothing read: the buffers on the way hold far less.
        reader.send(b"".join(b"f%d FETCH 1 BODY[]\r\n" % n for n in range(FETCHES)))
        asked_at = time.monotonic()
        wait_until(lambda: open_sessions(server) == 0, "the session that stopped reading ended")
        dropped_after = time.monotonic() - asked_at

    assert dropped_after < LITERAL_TIMEOUT + len(LARGE) / MIN_RATE + SLACK_SECONDS
