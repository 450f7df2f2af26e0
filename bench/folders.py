"""`python -m bench.folders`: how fast the tasks app's folders follow the app, and their cost.

A real `mailcmd serve` (worker in the process, IMAPS on 127.0.0.1, the state
folder, TLS certificate and database of `bench.installations`), on SQLite and,
when the bench role is there, on PostgreSQL. For each, in order:

1. `add -> Tasks`: a mailed `add` (STARTTLS + AUTH on the submission port),
   from the 250 that ends its DATA to `* n EXISTS` of its message in `Tasks` at
   an IMAPS client in IDLE; `add -> reply`: to its reply's INTERNALDATE in the
   INBOX (as `bench.run`'s `reply` columns), with the server's CPU per add.
2. `star -> view`: `UID STORE uid +FLAGS (\\Flagged)` in `Tasks`, from its tagged
   OK to the EXISTS, at a second connection in IDLE on `Tasks`, of the task's
   replaced (starred) message: the worker ran `edit --priority high`.
3. `move -> Done view`: `UID MOVE uid Tasks/Done`, from its tagged OK to the
   EXISTS, at a connection in IDLE on `Tasks/Done`, of the done rendering that
   replaces the moved message: the worker ran `done`.
4. all three again with the folder holding 100 and then 500 tasks
   (`imap.app_folder_limit`): what re-rendering the folder costs each command.

Prints median, p95 and max per measure and database, and writes the figures
with every round's latency to `bench/results/folders-<start time>.json`.
"""

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import installations
from bench.folder_rounds import FolderRounds, Series
from bench.processes import free_port
from bench.report import RESULTS, machine, percentile

DEFAULT_ROUNDS = 30
DEFAULT_SHOWN = (100, 500)


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds per measure")
    parser.add_argument(
        "--shown",
        type=int,
        nargs="*",
        default=list(DEFAULT_SHOWN),
        help="tasks in the folder for the cost measure (default 100 500)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--output", type=Path, help="JSON file (default: bench/results/...)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the folder benchmark and report it."""
    options = _options(argv)
    postgres_problem = "--no-postgres given" if options.no_postgres else None
    postgres_problem = postgres_problem or installations.postgres_unavailable()
    if postgres_problem:
        print(f"PostgreSQL skipped: {postgres_problem}", flush=True)
    started_at, began = datetime.now(UTC), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mailcmd-bench-folders-") as scratch:
        series = measure_engines(
            Path(scratch), postgres_problem is None, options.rounds, options.shown
        )
    text = table(series)
    print()
    print(text)
    elapsed = time.monotonic() - began
    print(f"\nran {elapsed:.0f} s; {machine()}")
    output = options.output or RESULTS / f"folders-{started_at:%Y%m%dT%H%M%SZ}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started_at": started_at.isoformat(),
        "seconds": elapsed,
        "rounds": options.rounds,
        "machine": machine(),
        "postgres": postgres_problem or "measured",
        "table": text,
        "series": [asdict(one) for one in series],
    }
    output.write_text(json.dumps(document, indent=1))
    print(f"results: {output}")
    return 0


def measure_engines(
    folder: Path, with_postgres: bool, rounds: int, shown: list[int]
) -> list[Series]:
    """Time the folders on SQLite, then on PostgreSQL `with_postgres`."""
    series: list[Series] = []
    for engine in ["sqlite"] + (["postgresql"] if with_postgres else []):
        series += measure(folder, engine, rounds, shown)
    return series


def measure(folder: Path, engine: str, rounds: int, shown: list[int]) -> list[Series]:
    """Start a fresh mailcmd with IMAPS on `engine` and time its folders."""
    tls = installations.certificate(folder / "tls")
    url = installations.fresh_postgres("mailcmd_bench_folders") if engine == "postgresql" else None
    imap_port = free_port()
    system = installations.mailcmd(
        folder,
        f"folders-{engine}",
        tls=tls,
        database_url=url,
        work=True,
        overrides={"MAILCMD_IMAP__TLS_PORT": str(imap_port)},
    )
    print(f"starting {system.name}", flush=True)
    system.start()
    try:
        timing = FolderRounds(system, imap_port)
        try:
            # The first login's argon2 and the first templates, not timed; one task.
            timing.add()
            found: list[Series] = []
            for size in [1, *shown]:
                if size > 1:
                    timing.fill(size)
                found += timing.adds(rounds, shown=size)
                found += [timing.stars(rounds), timing.moves(rounds)]
                _progress(found[-5:])
        finally:
            timing.close()
    finally:
        system.stop()
    return found


def _progress(found: list[Series]) -> None:
    for one in found:
        print(f"{one.engine} {one.measure}: {_figures(one)}", flush=True)


def _figures(series: Series) -> str:
    ms = [1000 * value for value in series.latencies]
    return (
        f"median {statistics.median(ms):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms,"
        f" max {max(ms):.1f} ms"
    )


def table(series: list[Series]) -> str:
    """The figures as a Markdown table, one row per measure and database."""
    rows = [
        "| measure | database | rounds | median ms | p95 ms | max ms | server CPU ms per add |",
        "|---|---|---|---|---|---|---|",
    ]
    for one in series:
        ms = [1000 * value for value in one.latencies]
        cpu = "-"
        if one.cpu_seconds is not None:
            cpu = f"{1000 * one.cpu_seconds / len(one.latencies):.1f}"
        rows.append(
            f"| {one.measure} | {one.engine} | {len(ms)} | {statistics.median(ms):.1f}"
            f" | {percentile(ms, 0.95):.1f} | {max(ms):.1f} | {cpu} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
