"""A literal's reservation of the shared literal budget lasts only while its bytes keep coming.

Each test pins a number: the seconds a client that stops (or trickles) mid-literal
keeps its share of `imap.max_literal_memory` before it is let go.
"""

import select
import ssl
import time

import pytest

from mailcmd.imap.connection import SLOW_LITERAL_BYE
from tests.conftest import ALICE, PASSWORD, StartServer
from tests.imap_support import MESSAGE, RawImap, raw_imap
from tests.servers import RunningServer

LOGIN = b'LOGIN "%s" "%s"' % (ALICE.encode(), PASSWORD.encode())
LITERAL_TIMEOUT = 1.0
MIN_RATE = 8192
# The server's clock starts before the client's: the let-go is seen this much later at most.
SLACK_SECONDS = 1.5
# Room in the literal budget for one message of 40 kB in flight, not two.
BUDGET = 60_000
LARGE = MESSAGE + b"x" * (40_000 - len(MESSAGE))


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:
    """A server (no worker) whose literals must arrive at 8 KiB/s, at most a second behind."""
    return start_server(
        max_message_size=65536,
        imap={
            "max_literal_memory": BUDGET,
            "literal_timeout": LITERAL_TIMEOUT,
            "literal_min_rate": MIN_RATE,
        },
    )


def server_spoke(client: RawImap, within: float) -> bool:
    """Whether the server sends something (or closes) within `within` seconds."""
    sock = client.sock
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    return bool(select.select([sock], [], [], within)[0])


def test_a_client_stalling_mid_literal_is_let_go_and_its_budget_serves_another(
    server: RunningServer,
) -> None:
    with raw_imap(server.port("imaps"), server.tls_client_context) as staller:
        assert staller.command(b"a1", LOGIN)[-1].startswith(b"a1 OK")
        staller.send(b"a2 APPEND INBOX {%d}\r\n" % len(LARGE))
        assert staller.line().startswith(b"+ ")
        staller.send(LARGE[: len(LARGE) // 2])
        stalled_at = time.monotonic()
        with raw_imap(server.port("imaps"), server.tls_client_context) as other:
            assert other.command(b"b1", LOGIN)[-1].startswith(b"b1 OK")
            # While the staller holds its reservation, a second large literal waits.
            other.send(b"b2 APPEND INBOX {%d}\r\n" % len(LARGE))
            refused = other.until_tagged(b"b2")
            goodbye = staller.line()
            let_go_after = time.monotonic() - stalled_at
            closed = staller.closed_by_server()
            other.send(b"b3 APPEND INBOX {%d}\r\n" % len(LARGE))
            ready = other.line()
            other.send(LARGE + b"\r\n")
            appended = other.until_tagged(b"b3")

    assert refused == [b"b2 NO [UNAVAILABLE] server busy, try again later"]
    assert goodbye == SLOW_LITERAL_BYE
    assert closed
    assert let_go_after < LITERAL_TIMEOUT + SLACK_SECONDS
    assert ready.startswith(b"+ ")
    assert appended[-1].startswith(b"b3 OK [APPENDUID")


def test_a_literal_may_take_longer_than_the_timeout_only_while_it_keeps_the_rate(
    server: RunningServer,
) -> None:
    chunk = 2000
    with raw_imap(server.port("imaps"), server.tls_client_context) as steady:
        assert steady.command(b"a1", LOGIN)[-1].startswith(b"a1 OK")
        steady.send(b"a2 APPEND INBOX {%d}\r\n" % len(LARGE))
        assert steady.line().startswith(b"+ ")
        started = time.monotonic()
        # 20 kB/s, above the minimum of 8 KiB/s: two seconds for 40 kB, twice the timeout.
        for offset in range(0, len(LARGE), chunk):
            steady.send(LARGE[offset : offset + chunk])
            time.sleep(chunk / 20_000)
        steady.send(b"\r\n")
        appended = steady.until_tagged(b"a2")
        steady_took = time.monotonic() - started

    with raw_imap(server.port("imaps"), server.tls_client_context) as trickler:
        assert trickler.command(b"c1", LOGIN)[-1].startswith(b"c1 OK")
        trickler.send(b"c2 APPEND INBOX {%d}\r\n" % len(LARGE))
        assert trickler.line().startswith(b"+ ")
        started = time.monotonic()
        sent = 0
        # 2 kB/s, a quarter of the minimum: the server falls a second behind in 1.3 s.
        while sent < len(LARGE) and not server_spoke(trickler, within=0.1):
            trickler.send(LARGE[sent : sent + 200])
            sent += 200
        trickler_let_go = time.monotonic() - started
        goodbye = trickler.line()

    assert steady_took > 2 * LITERAL_TIMEOUT
    assert appended[-1].startswith(b"a2 OK [APPENDUID")
    assert sent < len(LARGE) // 4
    assert trickler_let_go < LITERAL_TIMEOUT * MIN_RATE / (MIN_RATE - 2000) + SLACK_SECONDS
    assert goodbye == SLOW_LITERAL_BYE
