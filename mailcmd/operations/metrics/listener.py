"""The metrics listener: `GET /metrics` (Prometheus text format) and `GET /healthz`.

Plain HTTP on `[metrics] host` (loopback by default), one bounded request per
connection like the autoconfig listener (see `mailcmd.net.http_listener`); any other
path is 404. The exposition is made in a thread of its own, since the queue
depths in it are read from the database.
"""

from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from mailcmd.db.database import Database
from mailcmd.net.http_listener import NOT_FOUND, HttpListener, HttpRequest, HttpResponse
from mailcmd.operations.metrics.health import HealthCheck
from mailcmd.operations.metrics.instruments import REGISTRY
from mailcmd.operations.metrics.queue_depths import QueueDepths
from mailcmd.operations.metrics.single_flight import SingleFlight
from mailcmd.settings import MetricsSettings

METRICS_PATH = "/metrics"
HEALTH_PATH = "/healthz"


class MetricsListener(HttpListener):
    """Serves this process's metrics and health on `settings.host:port` once started."""

    def __init__(
        self,
        settings: MetricsSettings,
        port: int,
        database: Database,
        listeners_down: Callable[[], list[str]],
    ) -> None:
        """Prepare to serve the metrics of this process and `database`'s queues; nothing
        listens until `start`. `listeners_down` names the process's listeners that
        should run and do not, for `/healthz`."""
        super().__init__("metrics", self._page, settings.host, port, settings.timeout)
        self._timeout = settings.timeout
        self._health = HealthCheck(database, listeners_down)
        exposed = _Exposed(QueueDepths(database))
        self._exposition = SingleFlight(lambda: generate_latest(exposed), "mailcmd-metrics")

    async def stop(self) -> None:
        """Stop listening; start no more scrapes or checks."""
        await super().stop()
        self._exposition.close()
        self._health.close()

    async def _page(self, request: HttpRequest) -> HttpResponse:
        if request.path == METRICS_PATH:
            try:
                body = await self._exposition.result(self._timeout)
            except TimeoutError:
                return HttpResponse("503 Service Unavailable", b"metrics: no answer in time\n")
            # The classic text format, which every Prometheus version reads.
            return HttpResponse("200 OK", body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
        if request.path == HEALTH_PATH:
            problem = await self._health.problem()
            if problem is None:
                return HttpResponse("200 OK", b"ok\n")
            return HttpResponse("503 Service Unavailable", f"{problem}\n".encode())
        return NOT_FOUND


class _Exposed(Collector):
    """This process's instruments, and the queue depths read from the database."""

    def __init__(self, depths: QueueDepths) -> None:
        self._depths = depths

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from self._depths.collect()
