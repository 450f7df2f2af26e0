"""`python -m bench.run [--quick]`: the whole benchmark in one interleaved run.

Starts the floor (raw aiosmtpd), the mailcmd installations and the Salmon peer
once, then sends every load to every system in rounds, the systems' order
rotating from load to load, so that drift in the machine's load hits all alike.
Then 1,000 idle connections, the worker alone on a pre-filled queue (replies to
the INBOX and through the relay), and end to end with one and with two
`mailcmd worker` processes (SQLite and PostgreSQL), and the tasks app's folders
(`bench.folders`: mail, star and move to the view in IDLE). Prints the tables and writes
everything as JSON under `bench/results/`.
"""

import argparse
import functools
import json
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import folders, installations, peer, scaling, worker_alone
from bench.idle import IdleResult, hold_idle
from bench.installations import Installation
from bench.load import LoadResult, generate, raise_file_limit
from bench.matrix import KB, Budget, Load, loads, spec_for, takes
from bench.processes import memory_bytes, reset_peak_memory
from bench.replies import Watch, open_watch
from bench.report import RESULTS, Measurement, machine, summarise, table
from bench.targets import verdicts

# End-to-end cells wait this long at most for their replies, and give up sooner on silence.
REPLY_TIMEOUT = 120.0
REPLY_STALL = 20.0
LOAD_PROCESSES = 2
# Extra rounds of the 2 KB loads at concurrency 100 in a full run.
FOCUS_ROUNDS = 2
# Single messages sent one at a time, each waiting for its reply: the unloaded round trip.
ROUND_TRIPS = 20
ROUND_TRIP_LOAD = "2KB one by one"


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of two to three minutes")
    parser.add_argument("--rounds", type=int, help="rounds over the matrix (default 2; quick 1)")
    parser.add_argument("--seconds", type=float, help="seconds each timed cell sends")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-salmon", action="store_true", help="without the Salmon peer")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections to hold")
    parser.add_argument("--no-folders", action="store_true", help="without the app folders' part")
    parser.add_argument("--only", help="run only loads whose label contains this text")
    parser.add_argument("--output", type=Path, help="JSON file (default: bench/results/...)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and report it."""
    options = _options(argv)
    raise_file_limit()
    quick = options.quick
    rounds = options.rounds or (1 if quick else 2)
    budget = Budget(
        seconds=options.seconds or (0.6 if quick else 1.2),
        end_to_end_messages={1: 30, 10: 100, 100: 200} if quick else {1: 40, 10: 120, 100: 300},
    )
    matrix = loads([1, 10, 100], [2 * KB] if quick else [2 * KB, 100 * KB])
    if quick:
        # The targets against Salmon are at 10 and 100 connections (plain); TLS at 1 and 100.
        matrix = [load for load in matrix if load.security == "plain" or load.concurrency != 10]
    if options.only:
        matrix = [load for load in matrix if options.only in load.label]
    postgres_problem = "--no-postgres given" if options.no_postgres else None
    postgres_problem = postgres_problem or installations.postgres_unavailable()
    if postgres_problem:
        print(f"PostgreSQL skipped: {postgres_problem}", flush=True)
    salmon_python: Path | None = None
    salmon_problem: str | None = "--no-salmon given"
    if not options.no_salmon:
        salmon_python, salmon_problem = peer.salmon_python()
    if salmon_problem:
        print(f"Salmon skipped: {salmon_problem}", flush=True)
    began = time.monotonic()
    started_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="mailcmd-bench-") as scratch:
        folder = Path(scratch)
        systems = _systems(
            folder, with_postgres=postgres_problem is None, salmon=salmon_python, quick=quick
        )
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(LOAD_PROCESSES, mp_context=spawn) as pool:
            measurements, loaded_rss = _run_systems(systems, matrix, budget, rounds, quick, pool)
            idle = _idle_servers(folder, options.idle)
            alone = _workers_alone(quick)
            scales = [
                scaling.measure(
                    folder, pool, engine=engine, messages=150 if quick else 500, rounds=rounds
                )
                for engine in ("sqlite", "postgresql")
                if engine == "sqlite" or postgres_problem is None
            ]
        folder_series = []
        if not options.no_folders:
            folder_series = folders.measure_engines(
                folder,
                with_postgres=postgres_problem is None,
                rounds=10 if quick else folders.DEFAULT_ROUNDS,
                shown=[500] if quick else list(folders.DEFAULT_SHOWN),
            )
    summaries = summarise(measurements)

    order = [load.label for load in matrix] + [ROUND_TRIP_LOAD]
    text = table(summaries, order)
    print()
    print(text)
    print()
    for name, rss in loaded_rss.items():
        print(f"RSS after the matrix: {name} {rss / 2**20:.0f} MiB")
    for result in idle:
        waits = ", ".join(f"{wait:.1f}" for wait in result.greeting_waits_ms)
        print(
            f"idle: {result.system}: {result.held}/{result.connections} connections held,"
            f" RSS {result.rss_before_mib:.0f} -> {result.rss_mib:.0f} MiB;"
            f" fresh greeting waits {waits} ms"
        )
    for figures in alone.values():
        print(figures["line"])
    for scale in scales:
        print(scaling.describe(scale))
    checked = verdicts(summaries, idle, scales, alone)
    print()
    for verdict in checked:
        print(verdict.line())
    if folder_series:
        print()
        print(folders.table(folder_series))
    elapsed = time.monotonic() - began
    print(f"\nran {elapsed:.0f} s; {machine()}")
    name = f"{started_at:%Y%m%dT%H%M%SZ}{'-quick' if quick else ''}.json"
    output = options.output or RESULTS / name
    output.parent.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "started_at": started_at.isoformat(),
        "seconds": elapsed,
        "quick": quick,
        "rounds": rounds,
        "budget": asdict(budget),
        "machine": machine(),
        "postgres": postgres_problem or "measured",
        "salmon": salmon_problem or f"salmon-mail {peer.SALMON_VERSION}",
        "summaries": [summary.as_dict() for summary in summaries],
        "table": text,
        "idle": [asdict(result) for result in idle],
        "rss_after_matrix": loaded_rss,
        "scaling": scales,
        "worker_alone": alone,
        "targets": [asdict(verdict) for verdict in checked],
        "folders": [asdict(series) for series in folder_series],
        "measurements": [_compact(measurement) for measurement in measurements],
    }
    output.write_text(json.dumps(document, indent=1, default=str))
    print(f"results: {output}")
    return 0


def _run_systems(
    systems: list[Installation],
    matrix: list[Load],
    budget: Budget,
    rounds: int,
    quick: bool,
    pool: ProcessPoolExecutor,
) -> tuple[list[Measurement], dict[str, int]]:
    # Every system runs through the whole matrix; all are stopped however it ends.
    try:
        for system in systems:
            print(f"starting {system.name}", flush=True)
            system.start()
        _warm_up(systems, pool)
        measurements = _matrix(systems, matrix, budget, rounds, pool)
        measurements += [
            _round_trips(system, ROUND_TRIPS if not quick else ROUND_TRIPS // 4, pool)
            for system in systems
            if system.kind == "end-to-end"
        ]
        # The loads the targets are set for get extra rounds, for steadier figures.
        focus = [load for load in matrix if load.size == 2 * KB and load.concurrency == 100]
        if not quick and focus:
            measurements += _matrix(
                systems, focus, budget, FOCUS_ROUNDS, pool, first_round=rounds + 1
            )
        return measurements, {system.name: system.server.memory()[0] for system in systems}
    finally:
        for system in systems:
            system.stop()


def _systems(
    folder: Path, *, with_postgres: bool, salmon: Path | None, quick: bool
) -> list[Installation]:
    tls = installations.certificate(folder / "tls")
    systems = [installations.floor(folder, tls)]
    if salmon is not None:
        systems.append(peer.salmon(folder, salmon))
    engines: list[tuple[str, str | None]] = [("sqlite", None)]
    if with_postgres:
        engines.append(("pg", "postgres"))
    for engine, database in engines:
        for kind, work in (("receive", False), ("e2e", True)):
            name = f"{kind}-{engine}"
            url = installations.fresh_postgres(f"mailcmd_bench_{kind}") if database else None
            systems.append(
                installations.mailcmd(folder, name, tls=tls, database_url=url, work=work)
            )
    # Replies through the relay on SQLite, and on PostgreSQL in full runs (no target there).
    systems.append(
        installations.mailcmd_relay(folder, "e2e-relay-sqlite", tls=tls, database_url=None)
    )
    if with_postgres and not quick:
        url = installations.fresh_postgres("mailcmd_bench_relay")
        systems.append(
            installations.mailcmd_relay(folder, "e2e-relay-pg", tls=tls, database_url=url)
        )
    return systems


def _warm_up(systems: list[Installation], pool: ProcessPoolExecutor) -> None:
    # First logins (argon2), first templates, first connections of each pool.
    budget = Budget(seconds=0.3, end_to_end_messages={1: 5, 10: 20})
    for system in systems:
        for load in (Load("plain", 2 * KB, 10), Load("tls", 2 * KB, 1)):
            if takes(system, load):
                spec = spec_for(system, load, budget, tag=f"warm{time.monotonic_ns()}")
                generate(spec, pool)
    for system in systems:
        if system.kind == "end-to-end":
            watch = open_watch(system)
            watch.wait(10**9, timeout=5.0, stall=2.0)
            watch.close()


def _matrix(
    systems: list[Installation],
    matrix: list[Load],
    budget: Budget,
    rounds: int,
    pool: ProcessPoolExecutor,
    first_round: int = 1,
) -> list[Measurement]:
    watches = {system.name: open_watch(system) for system in systems if system.kind == "end-to-end"}
    measurements = []
    turn = 0
    try:
        for round_number in range(first_round, first_round + rounds):
            for load in matrix:
                turn += 1
                # Rotate who goes first, so that no system always follows the same one.
                order = systems[turn % len(systems) :] + systems[: turn % len(systems)]
                for system in order:
                    if not takes(system, load):
                        continue
                    measurement = _measure(
                        system, load, budget, round_number, pool, watches.get(system.name)
                    )
                    measurements.append(measurement)
                    print(_progress(measurement), flush=True)
    finally:
        for watch in watches.values():
            watch.close()
    return measurements


def _measure(
    system: Installation,
    load: Load,
    budget: Budget,
    round_number: int,
    pool: ProcessPoolExecutor,
    watch: Watch | None,
) -> Measurement:
    spec = spec_for(system, load, budget, tag=f"r{round_number}.{time.monotonic_ns()}")
    pid = system.server.pid
    backends = scaling.BackendCpu(system.database_url)
    if watch is not None:
        watch.mark()
    reset_peak_memory(pid)
    cpu_before = system.server.cpu_seconds()
    result: LoadResult = generate(spec, pool)
    seconds = result.finished - result.started
    reply_latencies: list[float] = []
    replies = 0
    if watch is not None:
        stored = watch.wait(result.accepted, timeout=REPLY_TIMEOUT, stall=REPLY_STALL)
        sent_at = dict(zip(result.message_ids, result.data_ends, strict=True))
        reply_latencies = [
            reply.stored_at - sent_at[reply.answers] for reply in stored if reply.answers in sent_at
        ]
        replies = len(reply_latencies)
        if stored:
            # From the start of the load until the last reply was stored.
            seconds = max(reply.stored_at for reply in stored) - result.started_at
    cpu = system.server.cpu_seconds() - cpu_before
    database_cpu = backends.used()
    return Measurement(
        system=system.name,
        kind=system.kind,
        engine=system.engine,
        load=load.label,
        round=round_number,
        accepted=result.accepted,
        errors=result.errors,
        seconds=seconds,
        latencies=result.latencies,
        reply_latencies=reply_latencies,
        replies=replies,
        cpu_seconds=cpu,
        database_cpu_seconds=database_cpu,
        peak_rss=memory_bytes(pid)[1],
        error_samples=result.error_samples,
    )


def _round_trips(system: Installation, count: int, pool: ProcessPoolExecutor) -> Measurement:
    # What one person sees: a mail sent, and its reply in the INBOX, on an idle server.
    watch = open_watch(system)
    budget = Budget(seconds=0.0, end_to_end_messages={1: 1})
    latencies: list[float] = []
    replies: list[float] = []
    cpu_before, began = system.server.cpu_seconds(), time.monotonic()
    try:
        for number in range(count):
            watch.mark()
            spec = spec_for(system, Load("plain", 2 * KB, 1), budget, tag=f"trip{number}.{began}")
            result = generate(spec, pool)
            stored = watch.wait(result.accepted, timeout=REPLY_STALL, stall=REPLY_STALL)
            latencies += result.latencies
            sent_at = dict(zip(result.message_ids, result.data_ends, strict=True))
            replies += [r.stored_at - sent_at[r.answers] for r in stored if r.answers in sent_at]
    finally:
        watch.close()
    return Measurement(
        system=system.name,
        kind=system.kind,
        engine=system.engine,
        load=ROUND_TRIP_LOAD,
        round=1,
        accepted=len(latencies),
        errors=count - len(replies),
        seconds=time.monotonic() - began,
        latencies=latencies,
        reply_latencies=replies,
        replies=len(replies),
        cpu_seconds=system.server.cpu_seconds() - cpu_before,
        peak_rss=system.server.memory()[1],
    )


def _idle_servers(folder: Path, count: int) -> list[IdleResult]:
    # Fresh servers: what idle connections cost, not what earlier loads left behind.
    tls = installations.certificate(folder / "tls")
    fresh = [
        installations.floor(folder, tls),
        installations.mailcmd(folder, "idle-sqlite", tls=tls, database_url=None, work=True),
    ]
    results = []
    for system in fresh:
        system.server.start()
        try:
            pid = system.server.pid
            print(f"idle: {count} connections to a fresh {system.name}", flush=True)
            results.append(
                hold_idle(
                    system.name, system.submission_port, count, rss=functools.partial(_rss, pid)
                )
            )
        finally:
            system.server.stop()
    return results


def _workers_alone(quick: bool) -> dict[str, dict[str, Any]]:
    # The worker's CPU per reply with nothing else running: the yardstick of the worker.
    found: dict[str, dict[str, Any]] = {}
    for relay in (False, True):
        print(f"worker alone, {'relay' if relay else 'INBOX'}", flush=True)
        rounds = worker_alone.measure(
            postgres=False, relay=relay, messages=100 if quick else 300, rounds=2 if quick else 4
        )
        figures = [one.cpu_ms_per_reply() for one in rounds]
        found["relay" if relay else "inbox"] = {
            "best_ms": min(figures),
            "rounds_ms": figures,
            "line": worker_alone.describe(rounds, postgres=False, relay=relay),
        }
    return found


def _rss(pid: int) -> int:
    return memory_bytes(pid)[0]


def _progress(measurement: Measurement) -> str:
    rate = (
        measurement.replies if measurement.kind == "end-to-end" else measurement.accepted
    ) / max(measurement.seconds, 1e-9)
    errors = (
        f" errors={measurement.errors} {measurement.error_samples[:1]}"
        if measurement.errors
        else ""
    )
    return (
        f"round {measurement.round} {measurement.load:<18} {measurement.system:<15}"
        f" {rate:8.0f} msgs/s  cpu {measurement.cpu_seconds:6.2f} s{errors}"
    )


def _compact(measurement: Measurement) -> dict[str, Any]:
    values = asdict(measurement)
    values["latencies"] = len(measurement.latencies)
    values["reply_latencies"] = len(measurement.reply_latencies)
    return values


if __name__ == "__main__":
    raise SystemExit(main())
