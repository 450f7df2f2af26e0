"""The floor: raw aiosmtpd with a handler that does nothing but answer 250.

`python -m bench.floor --port P [--cert C --key K]` listens on 127.0.0.1:P, offers
STARTTLS when given a certificate, prints `ready` and serves until SIGTERM. Like
mailcmd it advertises PIPELINING and names itself, so that the load generator
speaks to both the same way and no DNS lookup of the host's name is measured.
"""

import argparse
import asyncio
import signal
import ssl
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.load import raise_file_limit


class AcceptEverything:
    """aiosmtpd hooks that accept every sender, recipient and message, keeping nothing."""

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Answer EHLO as aiosmtpd does, with PIPELINING added (mailcmd offers it too)."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Say 250 and forget the message."""
        return "250 2.0.0 OK"


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    """A server TLS context for `cert` and `key`, TLS 1.2 or newer, as mailcmd's."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


async def serve(host: str, port: int, tls: ssl.SSLContext | None) -> None:
    """Serve on `host:port` until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    handler = AcceptEverything()

    def protocol() -> SMTP:
        return SMTP(handler, hostname="floor.localhost", tls_context=tls, loop=loop)

    server = await loop.create_server(protocol, host=host, port=port, reuse_address=True)
    await run_until_stopped(server, f"floor on {host}:{port}")


async def run_until_stopped(server: asyncio.Server, name: str) -> None:
    """Say `name` is ready, serve until SIGTERM or SIGINT, then close `server`."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(f"listening: {name}; ready", flush=True)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    """Run the floor server from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", type=Path)
    parser.add_argument("--key", type=Path)
    arguments = parser.parse_args(argv)
    raise_file_limit()
    tls = server_tls(arguments.cert, arguments.key) if arguments.cert and arguments.key else None
    asyncio.run(serve(arguments.host, arguments.port, tls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
