"""Figures of a run: one measurement per system and load and round, summarised into a table."""

import math
import os
import platform
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
# Where every run writes its figures (git-ignored).
RESULTS = Path(__file__).resolve().parent / "results"
# The end-to-end peer (the Salmon app): end-to-end rows are also divided by its rate.
PEER = "salmon"


@dataclass
class Measurement:
    """One system under one load in one round."""

    system: str
    kind: str
    engine: str
    load: str
    round: int
    accepted: int
    errors: int
    seconds: float
    # End of DATA to 250, and for end-to-end loads end of DATA to reply stored, in seconds.
    latencies: list[float] = field(default_factory=list)
    reply_latencies: list[float] = field(default_factory=list)
    replies: int = 0
    cpu_seconds: float = 0.0
    database_cpu_seconds: float | None = None
    peak_rss: int = 0
    error_samples: list[str] = field(default_factory=list)


@dataclass
class Summary:
    """All rounds of one system under one load."""

    system: str
    kind: str
    engine: str
    load: str
    rate: float
    p50: float
    p95: float
    p99: float
    reply_p50: float | None
    reply_p95: float | None
    reply_p99: float | None
    cpu_per_1000: float
    database_cpu_per_1000: float | None
    peak_rss_mib: float
    messages: int
    errors: int
    rounds: int
    # Each figure divided by the floor's under the same load.
    rate_ratio: float | None = None
    p99_ratio: float | None = None
    cpu_ratio: float | None = None
    # End to end: replies per second divided by the peer's under the same load.
    peer_ratio: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values."""
        return asdict(self)


def percentile(values: Sequence[float], share: float) -> float:
    """Return the `share` (0..1) percentile of `values`, nearest rank; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return ordered[rank]


def summarise(measurements: Iterable[Measurement]) -> list[Summary]:
    """Pool the rounds of each system and load; add ratios to the floor and the peer.

    Every system is divided by the floor of the same load; end-to-end systems
    (the peer itself excepted) also by the peer, replies per second by replies per second.
    """
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for measurement in measurements:
        groups.setdefault((measurement.load, measurement.system), []).append(measurement)
    summaries = [_summary(group) for group in groups.values()]
    floors = {summary.load: summary for summary in summaries if summary.kind == "floor"}
    for summary in summaries:
        floor = floors.get(summary.load)
        if floor is None or summary is floor:
            continue
        summary.rate_ratio = _ratio(summary.rate, floor.rate)
        summary.p99_ratio = _ratio(summary.p99, floor.p99)
        summary.cpu_ratio = _ratio(summary.cpu_per_1000, floor.cpu_per_1000)
    peers = {summary.load: summary for summary in summaries if summary.system == PEER}
    for summary in summaries:
        peer = peers.get(summary.load)
        if peer is not None and summary.kind == "end-to-end" and summary is not peer:
            summary.peer_ratio = _ratio(summary.rate, peer.rate)
    return summaries


def _summary(group: list[Measurement]) -> Summary:
    first = group[0]
    latencies = [value for item in group for value in item.latencies]
    replies = [value for item in group for value in item.reply_latencies]
    messages = sum(item.accepted for item in group)
    counted = sum(item.replies if item.kind == "end-to-end" else item.accepted for item in group)
    # Rounds are pooled: messages over the time they took, so a long round weighs more.
    rate = counted / sum(item.seconds for item in group) if group else 0.0
    database = [item.database_cpu_seconds for item in group]
    database_cpu = (
        1000 * sum(value for value in database if value is not None) / counted
        if counted and all(value is not None for value in database)
        else None
    )
    return Summary(
        system=first.system,
        kind=first.kind,
        engine=first.engine,
        load=first.load,
        rate=rate,
        p50=percentile(latencies, 0.50),
        p95=percentile(latencies, 0.95),
        p99=percentile(latencies, 0.99),
        reply_p50=percentile(replies, 0.50) if replies else None,
        reply_p95=percentile(replies, 0.95) if replies else None,
        reply_p99=percentile(replies, 0.99) if replies else None,
        cpu_per_1000=1000 * sum(item.cpu_seconds for item in group) / counted if counted else 0.0,
        database_cpu_per_1000=database_cpu,
        peak_rss_mib=max(item.peak_rss for item in group) / MIB,
        messages=messages,
        errors=sum(item.errors for item in group),
        rounds=len(group),
    )


def _ratio(value: float, floor: float) -> float | None:
    return value / floor if floor else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.1f}"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


COLUMNS = (
    "load",
    "system",
    "msgs/s",
    "x floor",
    "x Salmon",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "p99 x floor",
    "reply p50/p95/p99 ms",
    "CPU s/1k",
    "x floor",
    "DB CPU s/1k",
    "peak RSS MiB",
    "errors",
)


def table(summaries: Sequence[Summary], load_order: Sequence[str]) -> str:
    """A Markdown table of `summaries`, loads in `load_order`, the floor first in each."""
    order = {load: index for index, load in enumerate(load_order)}
    rows = sorted(
        summaries, key=lambda s: (order.get(s.load, len(order)), _rank(s), s.engine, s.system)
    )
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        replies = (
            "-"
            if row.reply_p50 is None
            else f"{_ms(row.reply_p50)} / {_ms(row.reply_p95)} / {_ms(row.reply_p99)}"
        )
        cells = [
            row.load,
            row.system,
            f"{row.rate:.0f}",
            _times(row.rate_ratio),
            _times(row.peer_ratio),
            _ms(row.p50),
            _ms(row.p95),
            _ms(row.p99),
            _times(row.p99_ratio),
            replies,
            f"{row.cpu_per_1000:.2f}",
            _times(row.cpu_ratio),
            "-" if row.database_cpu_per_1000 is None else f"{row.database_cpu_per_1000:.2f}",
            f"{row.peak_rss_mib:.0f}",
            str(row.errors),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _rank(summary: Summary) -> int:
    # The floor, receive-only, the peer, then mailcmd end to end.
    if summary.system == PEER:
        return 2
    return {"floor": 0, "receive": 1, "end-to-end": 3}[summary.kind]


def machine() -> str:
    """The machine and versions a run measured on, in one line."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.partition(":")[2].strip()
            break
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
