"""`bench.folders` works against a real server (never how fast: no timed assertions)."""

from pathlib import Path

import pytest

from bench import folders
from bench.folder_rounds import Series


@pytest.mark.slow
def test_the_folder_rounds_time_every_measure_on_a_real_server(tmp_path: Path) -> None:
    found = folders.measure(tmp_path, "sqlite", rounds=2, shown=[5])

    assert [series.measure for series in found] == [
        "add -> Tasks (1+2 tasks)",
        "add -> INBOX reply (1+2 tasks)",
        "add -> reply INTERNALDATE (1+2 tasks)",
        "star -> view (3 tasks)",
        "move -> Done view (3 tasks)",
        "add -> Tasks (5+2 tasks)",
        "add -> INBOX reply (5+2 tasks)",
        "add -> reply INTERNALDATE (5+2 tasks)",
        "star -> view (7 tasks)",
        "move -> Done view (7 tasks)",
    ]
    assert all(len(series.latencies) == 2 for series in found)
    assert [series.cpu_seconds is not None for series in found].count(True) == 2


def test_the_folder_table_gives_median_p95_and_max_in_milliseconds() -> None:
    series = [
        Series("sqlite", "star -> view (3 tasks)", [0.010, 0.020, 0.040]),
        Series("postgresql", "add -> INBOX reply (1+2 tasks)", [0.1, 0.2], cpu_seconds=0.05),
    ]

    lines = folders.table(series).splitlines()

    assert lines[2] == "| star -> view (3 tasks) | sqlite | 3 | 20.0 | 40.0 | 40.0 | - |"
    assert lines[3] == (
        "| add -> INBOX reply (1+2 tasks) | postgresql | 2 | 150.0 | 200.0 | 200.0 | 25.0 |"
    )
