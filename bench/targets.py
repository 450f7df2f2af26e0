"""The targets of issues 8 and 16, checked against a run's figures."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.idle import IdleResult
from bench.report import Summary

TARGET_LOAD = "2KB c=100 plain"
TLS_LOAD = "2KB c=100 tls"
IDLE_RSS_MIB = 150.0
GREETING_MS = 100.0
# End to end against the Salmon peer: met at these loads, reported at c=1.
PEER_LOADS = ("2KB c=10 plain", "2KB c=100 plain")
PEER_REPORTED_LOADS = ("2KB c=1 plain",)
PEER_SYSTEMS = ("e2e-sqlite", "e2e-relay-sqlite")
# The worker alone: CPU per reply into the INBOX, and the relay's against it.
WORKER_CPU_MS = 2.5
RELAY_OVER_INBOX = 1.3


@dataclass(frozen=True)
class Verdict:
    """One target: what was asked, what was measured, and whether it was met."""

    target: str
    measured: str
    met: bool | None  # None: reported, no threshold

    def line(self) -> str:
        """The verdict as one line of the report."""
        mark = {True: "met", False: "MISSED", None: "reported"}[self.met]
        return f"[{mark}] {self.target}: {self.measured}"


def verdicts(
    summaries: Sequence[Summary],
    idle: Sequence[IdleResult],
    scales: Sequence[dict[str, Any]],
    alone: dict[str, dict[str, Any]],
) -> list[Verdict]:
    """Check every target for which the run has figures.

    `scales` are `bench.scaling` runs, `alone` the worker-alone figures by
    destination ("inbox", "relay"), each with its best CPU ms per reply.
    """
    found = {(summary.system, summary.load): summary for summary in summaries}
    checks: list[Verdict] = []

    def ratio(system: str, load: str, target: str, floor: float, figure: str) -> None:
        summary = found.get((system, load))
        value = None if summary is None else getattr(summary, figure)
        if value is not None:
            met = value >= floor if figure == "rate_ratio" else value <= floor
            checks.append(Verdict(f"{target} ({system})", f"{value:.2f}x the floor", met))

    ratio("receive-sqlite", TARGET_LOAD, "receive-only 2 KB c=100 plain >= 0.7x", 0.7, "rate_ratio")
    for load in PEER_LOADS + PEER_REPORTED_LOADS:
        for system in PEER_SYSTEMS:
            summary = found.get((system, load))
            if summary is None or summary.peer_ratio is None:
                continue
            reported = load in PEER_REPORTED_LOADS
            checks.append(
                Verdict(
                    f"end to end {load.removesuffix(' plain')}"
                    f"{'' if reported else ' >= 1.0x Salmon'} ({system})",
                    f"{summary.peer_ratio:.2f}x Salmon ({summary.rate:.0f} replies/s)",
                    None if reported else summary.peer_ratio >= 1.0,
                )
            )
    checks += _worker_alone(alone)
    for system in ("receive-sqlite", "receive-pg", "e2e-sqlite", "e2e-pg"):
        ratio(system, TARGET_LOAD, "p99 end of DATA to 250 at c=100 <= 2x", 2.0, "p99_ratio")
    for system in ("receive-sqlite", "receive-pg"):
        ratio(
            system, TLS_LOAD, "STARTTLS+AUTH per message >= 0.8x STARTTLS alone", 0.8, "rate_ratio"
        )
    for result in idle:
        if result.system == "floor":
            continue
        worst = max(result.greeting_waits_ms, default=float("inf"))
        checks.append(
            Verdict(
                f"{result.connections} idle connections: RSS < {IDLE_RSS_MIB:.0f} MiB,"
                f" fresh greeting < {GREETING_MS:.0f} ms ({result.system})",
                f"{result.held} held, {result.rss_mib:.0f} MiB, slowest greeting {worst:.1f} ms",
                result.held == result.connections
                and result.rss_mib < IDLE_RSS_MIB
                and worst < GREETING_MS,
            )
        )
    for scale in scales:
        checks.append(_scaling(scale, found.get(("e2e-sqlite", TARGET_LOAD))))
    return checks


def _worker_alone(alone: dict[str, dict[str, Any]]) -> list[Verdict]:
    checks = []
    inbox, relay = alone.get("inbox"), alone.get("relay")
    if inbox is not None:
        checks.append(
            Verdict(
                f"worker alone, CPU per reply into the INBOX < {WORKER_CPU_MS} ms (SQLite)",
                f"{inbox['best_ms']:.2f} ms",
                inbox["best_ms"] < WORKER_CPU_MS,
            )
        )
    if inbox is not None and relay is not None:
        over = relay["best_ms"] / inbox["best_ms"]
        checks.append(
            Verdict(
                f"worker alone, CPU per reply through the relay <= {RELAY_OVER_INBOX}x"
                " the INBOX's (SQLite)",
                f"{relay['best_ms']:.2f} ms, {over:.2f}x",
                over <= RELAY_OVER_INBOX,
            )
        )
    return checks


def _scaling(scale: dict[str, Any], in_process: Summary | None) -> Verdict:
    one, two = scale["by_workers"]["1"], scale["by_workers"]["2"]
    if scale["engine"] == "postgresql":
        return Verdict(
            "PostgreSQL end to end, 2 workers over 1",
            f"{scale['scaling']:.2f}x ({two['rate']:.0f} msgs/s),"
            f" {100 * two['database_share']:.0f}% of the CPU in PostgreSQL",
            None,
        )
    beside = "" if in_process is None else f"; in-process worker {in_process.rate:.0f} msgs/s"
    return Verdict(
        "SQLite end to end, `mailcmd worker` processes beside `serve --no-worker`",
        f"1: {one['rate']:.0f} msgs/s, 2: {two['rate']:.0f} msgs/s"
        f" ({scale['scaling']:.2f}x){beside}",
        None,
    )
