"""The targets of issue 8, checked against a run's figures."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.idle import IdleResult
from bench.report import Summary

TARGET_LOAD = "2KB c=100 plain"
TLS_LOAD = "2KB c=100 tls"
IDLE_RSS_MIB = 150.0
GREETING_MS = 100.0


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
    summaries: Sequence[Summary], idle: Sequence[IdleResult], scale: dict[str, Any] | None
) -> list[Verdict]:
    """Check every target for which the run has figures."""
    found = {(summary.system, summary.load): summary for summary in summaries}
    checks: list[Verdict] = []

    def ratio(system: str, load: str, target: str, floor: float, figure: str) -> None:
        summary = found.get((system, load))
        value = None if summary is None else getattr(summary, figure)
        if value is not None:
            met = value >= floor if figure == "rate_ratio" else value <= floor
            checks.append(Verdict(f"{target} ({system})", f"{value:.2f}x the floor", met))

    ratio("receive-sqlite", TARGET_LOAD, "receive-only 2 KB c=100 plain >= 0.7x", 0.7, "rate_ratio")
    ratio("e2e-sqlite", TARGET_LOAD, "end to end 2 KB c=100 >= 0.5x", 0.5, "rate_ratio")
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
    if scale is not None:
        two = scale["by_workers"]["2"]
        checks.append(
            Verdict(
                "PostgreSQL end to end, 2 workers over 1",
                f"{scale['scaling']:.2f}x ({two['rate']:.0f} msgs/s),"
                f" {100 * two['database_share']:.0f}% of the CPU in PostgreSQL",
                None,
            )
        )
    return checks
