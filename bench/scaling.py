"""End to end with one and with two `mailcmd worker` processes, on SQLite and on PostgreSQL.

A receive-only front end (`mailcmd serve --no-worker`) takes the load; separate
worker processes on the same database run the commands and deliver the replies.
On PostgreSQL the database's share is the CPU time of the backends serving the
run's database, against that of mailcmd's processes; SQLite's work is in the
processes themselves.
"""

import sys
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench import installations
from bench.load import generate
from bench.matrix import KB, Budget, Load, spec_for
from bench.processes import ServerProcess, cpu_seconds
from bench.replies import Watch, open_watch

WORKER_COUNTS = (1, 2)
REPLY_TIMEOUT = 180.0
REPLY_STALL = 20.0


class BackendCpu:
    """CPU seconds used by the PostgreSQL backends of one database since this was made."""

    def __init__(self, database_url: str | None) -> None:
        """Watch the backends serving `database_url`; a SQLite or no URL counts nothing."""
        self._database = None
        if database_url is not None and database_url.startswith("postgresql"):
            self._database = make_url(database_url).database
        self._start = self._sample()

    def used(self) -> float | None:
        """CPU seconds since the start, of backends alive now; None for no PostgreSQL."""
        if self._database is None:
            return None
        now = self._sample()
        return sum(cpu - self._start.get(pid, 0.0) for pid, cpu in now.items())

    def _sample(self) -> dict[int, float]:
        if self._database is None:
            return {}
        admin = make_url(installations.postgres_admin_url()).set(drivername="postgresql")
        with psycopg.connect(
            admin.render_as_string(hide_password=False), autocommit=True
        ) as connection:
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s"
                " AND coalesce(application_name, '') <> %s",
                (self._database, installations.RUNNER_APPLICATION),
            ).fetchall()
        found = {}
        for (pid,) in rows:
            try:
                found[int(pid)] = cpu_seconds(int(pid))
            except OSError:
                continue  # the backend has just gone
        return found


def measure(
    folder: Path, pool: Executor, *, engine: str, messages: int, rounds: int
) -> dict[str, Any]:
    """Run the end-to-end load against a front end with one, then two workers, `rounds` times.

    `engine` is "sqlite" (a fresh file) or "postgresql" (a fresh database).
    """
    tls = installations.certificate(folder / "tls")
    url = None
    if engine == "postgresql":
        url = installations.fresh_postgres("mailcmd_bench_scale")
    front = installations.mailcmd(
        folder,
        f"scale-front-{engine}",
        tls=tls,
        database_url=url,
        work=False,
        # Workers in other processes learn of new mail on SQLite by looking.
        overrides={"MAILCMD_WORKER__POLL_SECONDS": "0.05"},
    )
    front.server.start()
    watch = open_watch(front)
    load = Load("plain", 2 * KB, 100)
    budget = Budget(seconds=0.0, end_to_end_messages={100: messages})
    # The first login pays for argon2 and fills the cache, out of the measurement.
    generate(spec_for(front, Load("plain", 2 * KB, 1), Budget(0.3, {1: 1}), tag="scalewarm"), pool)
    runs: list[dict[str, Any]] = []
    try:
        for round_number in range(1, rounds + 1):
            for count in WORKER_COUNTS:
                workers = [
                    ServerProcess(
                        f"worker-{index}",
                        [sys.executable, "-m", "mailcmd", "worker"],
                        front.server.env,
                        folder / f"scale-{engine}-{round_number}-{count}-{index}.log",
                    )
                    for index in range(count)
                ]
                try:
                    for worker in workers:
                        worker.start()
                    runs.append(
                        _one(front, workers, watch, load, budget, round_number, count, pool)
                    )
                finally:
                    for worker in workers:
                        worker.stop()
                print(_line(runs[-1], engine), flush=True)
    finally:
        watch.close()
        front.server.stop()
    return {"engine": engine, **_summary(runs)}


def _one(
    front: installations.Installation,
    workers: list[ServerProcess],
    watch: Watch,
    load: Load,
    budget: Budget,
    round_number: int,
    count: int,
    pool: Executor,
) -> dict[str, Any]:
    spec = spec_for(
        front,
        load,
        budget,
        tag=f"scale{round_number}.{count}.{time.monotonic_ns()}",
        end_to_end=True,
    )
    # The front end receives only; counted as end to end, the load waits for replies.
    watch.mark()
    backends = BackendCpu(front.database_url)
    front_before = front.server.cpu_seconds()
    workers_before = [worker.cpu_seconds() for worker in workers]
    result = generate(spec, pool)
    stored = watch.wait(result.accepted, timeout=REPLY_TIMEOUT, stall=REPLY_STALL)
    seconds = (max(r.stored_at for r in stored) - result.started_at) if stored else 0.0
    workers_cpu = sum(w.cpu_seconds() - b for w, b in zip(workers, workers_before, strict=True))
    front_cpu = front.server.cpu_seconds() - front_before
    database_cpu = backends.used() or 0.0
    total = workers_cpu + front_cpu + database_cpu
    return {
        "round": round_number,
        "workers": count,
        "sent": result.accepted,
        "replies": len(stored),
        "errors": result.errors,
        "seconds": seconds,
        "rate": len(stored) / seconds if seconds > 0 else 0.0,
        "front_cpu": front_cpu,
        "workers_cpu": workers_cpu,
        "database_cpu": database_cpu,
        "database_share": database_cpu / total if total else 0.0,
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by_count: dict[str, Any] = {}
    for count in WORKER_COUNTS:
        mine = [run for run in runs if run["workers"] == count]
        replies = sum(run["replies"] for run in mine)
        seconds = sum(run["seconds"] for run in mine)
        cpu = {
            key: sum(run[key] for run in mine)
            for key in ("front_cpu", "workers_cpu", "database_cpu")
        }
        total = sum(cpu.values())
        by_count[str(count)] = {
            "rate": replies / seconds if seconds else 0.0,
            "replies": replies,
            "errors": sum(run["errors"] for run in mine),
            "cpu_per_1000": {
                key: 1000 * value / replies if replies else 0.0 for key, value in cpu.items()
            },
            "database_share": cpu["database_cpu"] / total if total else 0.0,
        }
    one, two = by_count["1"]["rate"], by_count["2"]["rate"]
    return {"by_workers": by_count, "scaling": two / one if one else 0.0, "runs": runs}


def _line(run: dict[str, Any], engine: str) -> str:
    database = f", database {100 * run['database_share']:.0f}% of CPU"
    return (
        f"scaling {engine} round {run['round']}: {run['workers']} worker(s):"
        f" {run['rate']:.0f} msgs/s end to end{database if engine == 'postgresql' else ''}"
        f" ({run['replies']}/{run['sent']} replies)"
    )


def describe(scale: dict[str, Any]) -> str:
    """One paragraph on the scaling run."""
    lines = []
    postgres = scale["engine"] == "postgresql"
    engine = "PostgreSQL" if postgres else "SQLite"
    for count, figures in scale["by_workers"].items():
        cpu = figures["cpu_per_1000"]
        database = (
            f", PostgreSQL {cpu['database_cpu']:.2f}"
            f" ({100 * figures['database_share']:.0f}% of it in the database)"
            if postgres
            else ""
        )
        lines.append(
            f"{engine} end to end, front end + {count} `mailcmd worker`:"
            f" {figures['rate']:.0f} msgs/s; CPU s/1k: front {cpu['front_cpu']:.2f},"
            f" workers {cpu['workers_cpu']:.2f}{database}"
        )
    lines.append(f"{engine}: scaling from 1 to 2 workers: {scale['scaling']:.2f}x")
    return "\n".join(lines)
