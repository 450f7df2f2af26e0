"""The benchmark's parts work (never how fast: benchmarks are not timed assertions)."""

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench import installations
from bench.load import LoadSpec, generate
from bench.matrix import KB, Budget, Load, spec_for, takes
from bench.processes import ServerProcess
from bench.replies import SinkWatch, open_watch
from bench.report import PEER, Measurement, percentile, summarise, table
from bench.targets import verdicts


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


@pytest.mark.slow
def test_the_relay_variant_answers_through_the_counting_sink(tmp_path: Path) -> None:
    tls = installations.certificate(tmp_path / "tls")
    system = installations.mailcmd_relay(tmp_path, "relay", tls=tls, database_url=None)
    budget = Budget(seconds=1.0, end_to_end_messages={1: 3})
    spec = spec_for(system, Load("plain", 2 * KB, 1), budget, tag="t")
    watch = open_watch(system)
    system.start()
    try:
        result = generate(spec)
        replies = watch.wait(3, timeout=60.0, stall=30.0)
    finally:
        system.stop()
        watch.close()

    assert (result.accepted, result.errors) == (3, 0)
    assert sorted(reply.answers for reply in replies) == sorted(result.message_ids)


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


def test_systems_with_a_plain_sender_get_plain_loads_unauthenticated(tmp_path: Path) -> None:
    system = installations.Installation(
        "peer",
        "end-to-end",
        "sqlite",
        ServerProcess("peer", [], {}, tmp_path / "log"),
        4,
        4,
        plain_sender="alice@bench-external.example",
    )
    budget = Budget(seconds=1.0, end_to_end_messages={10: 30})

    spec = spec_for(system, Load("plain", 2 * KB, 10), budget, tag="t")

    assert (spec.port, spec.security, spec.login, spec.mail_from, spec.messages) == (
        4,
        "plain",
        None,
        "alice@bench-external.example",
        30,
    )
    assert takes(system, Load("plain", 2 * KB, 10))
    assert not takes(system, Load("tls", 2 * KB, 10))


def measurement(
    system: str, kind: str, accepted: int, seconds: float, load: str = "2KB c=1 plain"
) -> Measurement:
    """One round of `system` on `load`, with one latency (and one reply) per message."""
    return Measurement(
        system=system,
        kind=kind,
        engine="sqlite",
        load=load,
        round=1,
        accepted=accepted,
        errors=0,
        seconds=seconds,
        latencies=[0.001] * accepted,
        replies=accepted if kind == "end-to-end" else 0,
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


def test_end_to_end_rows_are_also_a_share_of_the_peer() -> None:
    rows = [
        measurement("floor", "floor", 1000, 1.0),
        measurement("receive-sqlite", "receive", 700, 1.0),
        measurement(PEER, "end-to-end", 200, 1.0),
        measurement("e2e-sqlite", "end-to-end", 300, 1.0),
    ]

    summaries = {summary.system: summary for summary in summarise(rows)}
    text = table(list(summaries.values()), ["2KB c=1 plain"])

    assert summaries["e2e-sqlite"].peer_ratio == pytest.approx(1.5)
    assert summaries["e2e-sqlite"].rate_ratio == pytest.approx(0.3)
    assert summaries["receive-sqlite"].peer_ratio is None
    assert summaries[PEER].peer_ratio is None
    assert "x Salmon" in text.splitlines()[0]
    assert "1.50x" in text
    # The peer's row comes before mailcmd's end-to-end rows.
    systems = [line.split(" | ")[1] for line in text.splitlines()[2:]]
    assert systems == ["floor", "receive-sqlite", PEER, "e2e-sqlite"]


def test_end_to_end_targets_are_met_against_the_peer_at_c10_and_c100() -> None:
    rows = [
        measurement(system, "end-to-end", count, 1.0, load=f"2KB c={concurrency} plain")
        for concurrency in (1, 10, 100)
        for system, count in ((PEER, 200), ("e2e-sqlite", 210), ("e2e-relay-sqlite", 150))
    ]
    alone = {"inbox": {"best_ms": 2.0}, "relay": {"best_ms": 2.8}}

    checked = {verdict.target: verdict for verdict in verdicts(summarise(rows), [], [], alone)}

    assert checked["end to end 2KB c=100 >= 1.0x Salmon (e2e-sqlite)"].met is True
    assert checked["end to end 2KB c=10 >= 1.0x Salmon (e2e-relay-sqlite)"].met is False
    assert checked["end to end 2KB c=1 (e2e-sqlite)"].met is None
    assert checked["worker alone, CPU per reply into the INBOX < 2.5 ms (SQLite)"].met is True
    relay = "worker alone, CPU per reply through the relay <= 1.3x the INBOX's (SQLite)"
    assert checked[relay].met is False


def test_sink_watch_reads_the_replies_logged_since_its_mark(tmp_path: Path) -> None:
    log = tmp_path / "sink.replies"
    log.write_text("100.5 <old@bench.example>\n")
    watch = SinkWatch(log)
    watch.mark()
    with log.open("a") as sink:
        sink.write("101.25 <a@bench.example>\n102.0 -\n103.0 <b@bench")

    found = watch.wait(1, timeout=1.0, stall=1.0)

    assert [(reply.answers, reply.stored_at) for reply in found] == [("<a@bench.example>", 101.25)]
