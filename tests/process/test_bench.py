"""The benchmark's parts work (never how fast: benchmarks are not timed assertions)."""

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench import installations
from bench.load import LoadSpec, generate
from bench.matrix import KB, Budget, Load, spec_for
from bench.processes import ServerProcess
from bench.report import Measurement, percentile, summarise, table


@pytest.fixture
def floor(tmp_path: Path) -> Iterator[int]:
    """The raw aiosmtpd floor on a free port, with STARTTLS; yields the port."""
    system = installations.floor(tmp_path, installations.certificate(tmp_path / "tls"))
    system.server.start()
    try:
        yield system.plain_port
    finally:
        system.server.stop()


@pytest.mark.slow
def test_load_sends_the_count_asked_for_over_kept_connections(floor: int) -> None:
    spec = LoadSpec(host="127.0.0.1", port=floor, connections=2, messages=6, size=3 * KB)

    result = generate(spec)

    assert (result.accepted, result.errors) == (6, 0)
    assert len(set(result.message_ids)) == 6
    assert len(result.setups) == 2


@pytest.mark.slow
def test_load_with_starttls_opens_a_connection_per_message(floor: int) -> None:
    spec = LoadSpec(host="127.0.0.1", port=floor, security="starttls", messages=3, per_connection=1)

    result = generate(spec)

    assert (result.accepted, result.errors, len(result.setups)) == (3, 0, 3)


@pytest.mark.slow
@pytest.mark.parametrize("work", [False, True], ids=["receive-only", "end-to-end"])
def test_a_mailcmd_installation_starts_and_takes_the_load(tmp_path: Path, work: bool) -> None:
    tls = installations.certificate(tmp_path / "tls")
    system = installations.mailcmd(tmp_path, "mc", tls=tls, database_url=None, work=work)
    budget = Budget(seconds=1.0, end_to_end_messages={1: 3})
    spec = spec_for(system, Load("plain", 2 * KB, 1), budget, tag="t")
    system.server.start()
    try:
        result = generate(replace(spec, duration=None, messages=3))
    finally:
        system.server.stop()

    assert (result.accepted, result.errors) == (3, 0)


def test_load_against_nothing_ends_with_errors_not_a_hang() -> None:
    # A port held without listening: every connection to it is refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        spec = LoadSpec(host="127.0.0.1", port=port, messages=2, timeout=2.0, max_seconds=5.0)

        result = generate(spec)

    assert result.accepted == 0
    assert result.errors >= 1


def test_end_to_end_cells_log_in_and_send_a_count(tmp_path: Path) -> None:
    system = installations.Installation(
        "e2e", "end-to-end", "sqlite", ServerProcess("e2e", [], {}, tmp_path / "log"), 1, 2
    )
    floor = installations.Installation(
        "floor", "floor", "none", ServerProcess("floor", [], {}, tmp_path / "log"), 3, 3
    )
    budget = Budget(seconds=1.0, end_to_end_messages={100: 50})

    e2e = spec_for(system, Load("plain", 2 * KB, 100), budget, tag="t")
    raw = spec_for(floor, Load("tls", 2 * KB, 100), budget, tag="t")

    assert (e2e.port, e2e.security, e2e.login, e2e.messages) == (
        2,
        "starttls",
        "alice@app.localhost",
        50,
    )
    assert (raw.security, raw.login, raw.per_connection, raw.duration) == ("starttls", None, 1, 1.0)


def measurement(system: str, kind: str, accepted: int, seconds: float) -> Measurement:
    """One round of `system` on the same load, with one latency per message."""
    return Measurement(
        system=system,
        kind=kind,
        engine="sqlite",
        load="2KB c=1 plain",
        round=1,
        accepted=accepted,
        errors=0,
        seconds=seconds,
        latencies=[0.001] * accepted,
        cpu_seconds=0.5,
    )


def test_summaries_give_each_figure_as_a_share_of_the_floor() -> None:
    rows = [measurement("floor", "floor", 1000, 1.0), measurement("mc", "receive", 700, 1.0)]

    summaries = {summary.system: summary for summary in summarise(rows)}

    assert summaries["mc"].rate_ratio == pytest.approx(0.7)
    assert summaries["mc"].cpu_ratio == pytest.approx(1000 / 700)
    assert "0.70x" in table(list(summaries.values()), ["2KB c=1 plain"])


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]

    assert [percentile(values, share) for share in (0.5, 0.95, 0.99)] == [50.0, 95.0, 99.0]
