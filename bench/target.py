"""mailcmd as the benchmark runs it: `mailcmd serve [--no-worker]` with DNS answered offline.

`python -m bench.target [--no-worker]` reads the settings exactly as `mailcmd serve`
does (a TOML file and `MAILCMD_*` variables) and runs the same `Server`, except
that the MX port's DKIM, SPF and DMARC lookups are answered from an empty static
table instead of the network's DNS: a benchmark measures mailcmd, not a resolver.
"""

import argparse
import asyncio
import signal

from bench.load import raise_file_limit
from mailcmd.authenticity import StaticResolver
from mailcmd.db.database import Database, open_database
from mailcmd.logs import configure_logging
from mailcmd.server import Server, freeze_start_up_objects
from mailcmd.settings import Settings, load_settings


async def serve(settings: Settings, database: Database, *, work: bool) -> None:
    """Run mailcmd's server until SIGTERM or SIGINT, as `mailcmd serve` does."""
    server = Server(settings, database, work=work, resolver=StaticResolver({}))
    await server.start()
    freeze_start_up_objects()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    for line in server.start_up_lines():
        print(line, flush=True)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    """Run mailcmd for the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-worker", action="store_true", help="only receive")
    arguments = parser.parse_args(argv)
    raise_file_limit()
    settings = load_settings().settings
    configure_logging(settings.log_format)
    database = open_database(settings.database_url)
    try:
        asyncio.run(serve(settings, database, work=not arguments.no_worker))
    finally:
        database.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
