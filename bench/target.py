"""mailcmd as the benchmark runs it: `mailcmd serve [--no-worker]` with DNS answered offline.

`python -m bench.target [--no-worker]` reads the settings exactly as `mailcmd serve`
does (a TOML file and `MAILCMD_*` variables) and runs the same `serve`, except
that the MX port's DKIM, SPF and DMARC lookups are answered from a static
table instead of the network's DNS: a benchmark measures mailcmd, not a resolver.
The table holds one record: the SPF of the external domain the relay variant's
load comes from, allowing 127.0.0.1.
"""

import argparse
import asyncio
import functools

from bench.installations import EXTERNAL_DOMAIN, EXTERNAL_SPF
from bench.load import raise_file_limit
from mailcmd.db.database import open_database
from mailcmd.identity.authenticity import StaticResolver
from mailcmd.operations.logs import configure_logging
from mailcmd.runtime.server import serve
from mailcmd.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    """Run mailcmd for the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-worker", action="store_true", help="only receive")
    arguments = parser.parse_args(argv)
    raise_file_limit()
    settings = load_settings().settings
    configure_logging(settings.log_format)
    database = open_database(settings.database_url)
    announce = functools.partial(print, flush=True)
    try:
        asyncio.run(
            serve(
                settings,
                database,
                announce,
                work=not arguments.no_worker,
                resolver=StaticResolver({EXTERNAL_DOMAIN: {"TXT": [EXTERNAL_SPF]}}),
            )
        )
    finally:
        database.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
