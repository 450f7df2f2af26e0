"""The counting sink: a minimal aiosmtpd server that takes the replies relayed to it.

`python -m bench.sink --port P --log FILE` listens on 127.0.0.1:P, prints `ready`
and serves until SIGTERM. For every message it gets it appends one line to FILE:
the wall-clock time the message's DATA ended and the Message-ID it answers (its
`In-Reply-To`), so that the runner sees when each reply arrived, whoever sent it
(mailcmd through `[relay]`, or Salmon). It keeps nothing else.
"""

import argparse
import asyncio
import re
import time
from pathlib import Path
from typing import IO

from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.floor import run_until_stopped
from bench.load import raise_file_limit

IN_REPLY_TO = re.compile(rb"^In-Reply-To:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
# The header of a reply is searched, never the whole message.
HEADER_BYTES = 8192


class CountReplies:
    """aiosmtpd hooks that accept every message and log when it came and what it answers."""

    def __init__(self, log: IO[str]) -> None:
        """Append a line to `log` for every message received."""
        self._log = log

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Log the message's arrival, then say 250."""
        received_at = time.time()
        content = envelope.original_content or b""
        head = content[:HEADER_BYTES].partition(b"\r\n\r\n")[0]
        match = IN_REPLY_TO.search(head)
        answers = match.group(1).decode() if match is not None else "-"
        # One line, flushed at once: the runner reads the file while the load runs.
        self._log.write(f"{received_at:.6f} {answers}\n")
        self._log.flush()
        return "250 2.0.0 OK"


async def serve(host: str, port: int, log_path: Path) -> None:
    """Serve on `host:port` until SIGTERM or SIGINT, logging to `log_path`."""
    loop = asyncio.get_running_loop()
    with log_path.open("a") as log:
        handler = CountReplies(log)

        def protocol() -> SMTP:
            return SMTP(handler, hostname="sink.localhost", loop=loop)

        # Room for a burst of relay connections (Salmon opens one per reply).
        server = await loop.create_server(
            protocol, host=host, port=port, reuse_address=True, backlog=512
        )
        await run_until_stopped(server, f"sink on {host}:{port}")


def main(argv: list[str] | None = None) -> int:
    """Run the sink from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    arguments = parser.parse_args(argv)
    raise_file_limit()
    asyncio.run(serve(arguments.host, arguments.port, arguments.log))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
