"""The inbound queue's and the outbox's depth by status, read from the database at scrape time.

Gauges that any process can read alike: the queues live in the database, so every
scrape target reports the same depths (take `max()`, not `sum()`, across them).
"""

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from mailcmd.db.database import Database
from mailcmd.db.models import InboundMessage, OutboundMessage, QueueStatus
from mailcmd.operations.metrics.health import first_line

log = logging.getLogger(__name__)

# Every status but done: done rows are history (counted by the counters), and
# counting them would read the whole table at every scrape.
DEPTH_STATUSES = tuple(status for status in QueueStatus if status != QueueStatus.DONE)

INBOUND_DEPTH = "mailcmd_inbound_queue_messages"
INBOUND_HELP = "inbound messages by status (all but done)"
OUTBOX_DEPTH = "mailcmd_outbox_messages"
OUTBOX_HELP = "outbox messages by status (all but done)"


class QueueDepths(Collector):
    """Collects `mailcmd_inbound_queue_messages` and `mailcmd_outbox_messages` by status.

    Runs its two counting statements in the scraping thread, never on the event
    loop. A database that does not answer leaves the gauges out of that scrape
    (and `/healthz` says why).
    """

    def __init__(self, database: Database) -> None:
        """Read the depths from `database`."""
        self._database = database

    def collect(self) -> Iterator[Metric]:
        """Yield the two gauge families, one sample per status."""
        try:
            inbound, outbox = self._counts()
        except SQLAlchemyError as error:
            log.warning("queue depths not read: %s", first_line(error))
            return
        yield _family(INBOUND_DEPTH, INBOUND_HELP, inbound)
        yield _family(OUTBOX_DEPTH, OUTBOX_HELP, outbox)

    def _counts(self) -> tuple[dict[str, int], dict[str, int]]:
        found = []
        with self._database.engine.connect() as connection:
            for model in (InboundMessage, OutboundMessage):
                rows = connection.execute(
                    select(model.status, func.count())
                    .where(model.status.in_(DEPTH_STATUSES))
                    .group_by(model.status)
                )
                found.append({QueueStatus(status).value: count for status, count in rows})
        return found[0], found[1]


def _family(name: str, documentation: str, counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["status"])
    for status in DEPTH_STATUSES:
        family.add_metric([status.value], counts.get(status.value, 0))
    return family
