"""`/healthz`: whether this process's database answers and its listeners run."""

import logging
from collections.abc import Callable

from sqlalchemy import text

from mailcmd.db.database import Database
from mailcmd.operations.metrics.single_flight import SingleFlight

log = logging.getLogger(__name__)

# A database slower than this to answer `SELECT 1` counts as down: a health check
# that waits longer than a load balancer's time-out tells it nothing.
DATABASE_CHECK_SECONDS = 2.0


class HealthCheck:
    """Tells what is wrong with the process, if anything, in one line."""

    def __init__(self, database: Database, listeners_down: Callable[[], list[str]]) -> None:
        """Check `database`, and the listeners that `listeners_down` names as not serving."""
        self._database = database
        self._listeners_down = listeners_down
        self._query = SingleFlight(self._database_problem, "mailcmd-health")

    async def problem(self) -> str | None:
        """None when healthy; else what is wrong, without the database's own error text.

        That text (which can name hosts and users) goes to the log.
        """
        down = self._listeners_down()
        if down:
            return f"not listening: {', '.join(down)}"
        try:
            return await self._query.result(DATABASE_CHECK_SECONDS)
        except TimeoutError:
            return f"database: no answer within {DATABASE_CHECK_SECONDS:g} s"

    def close(self) -> None:
        """Start no more database checks."""
        self._query.close()

    def _database_problem(self) -> str | None:
        try:
            with self._database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # whatever the driver raises, the answer is the same
            log.warning("health check: the database did not answer: %s", first_line(error))
            return "database: not answering (the log says why)"
        return None


def first_line(error: Exception) -> str:
    """The first line of what `error` says (a driver's can run over many), or its type."""
    return (str(error).splitlines() or [type(error).__name__])[0]
