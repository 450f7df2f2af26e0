"""The Grafana dashboard shipped in the package reads, and asks only for metrics mailcmd has."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import Metric

import mailcmd.operations.metrics
from mailcmd.operations.metrics.instruments import REGISTRY
from mailcmd.operations.metrics.queue_depths import INBOUND_DEPTH, OUTBOX_DEPTH

DASHBOARD = Path(mailcmd.operations.metrics.__file__).parent / "grafana-dashboard.json"
# What a family's samples are called, by its type (the exposition's suffixes).
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
METRIC_NAME = re.compile(r"\b(?:mailcmd|process)_[a-z_]+\b")


def families() -> Iterator[Metric]:
    yield from REGISTRY.collect()
    # Named, not collected: collecting them reads the database.
    for name in (INBOUND_DEPTH, OUTBOX_DEPTH):
        yield Metric(name, "", "gauge")


def exposed_names() -> set[str]:
    return {family.name + suffix for family in families() for suffix in SUFFIXES[family.type]}


def queries(dashboard: dict[str, Any]) -> list[str]:
    found = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        if isinstance(variable["query"], dict):
            found.append(variable["query"]["query"])
    return found


def test_every_query_names_only_metrics_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text())

    named = {name for query in queries(dashboard) for name in METRIC_NAME.findall(query)}

    assert named
    assert named - exposed_names() == set()


def test_every_mailcmd_metric_has_a_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    text = " ".join(queries(dashboard))

    missing = {family.name for family in families() if family.name not in text}

    assert {name for name in missing if name.startswith("mailcmd_")} == set()
