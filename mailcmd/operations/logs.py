"""Log output for the server: one line per event, as text or JSON."""

import json
import logging
import sys
from typing import Literal

from mailcmd.operations.traces import current_trace_id


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id = getattr(record, "trace_id", None)
        if trace_id is not None:
            entry["trace_id"] = trace_id
        fields = getattr(record, "smtp", None)
        if isinstance(fields, dict):
            entry["smtp"] = fields
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class _TraceFilter(logging.Filter):
    """Names on each record the trace (`mailcmd.operations.traces`) of the work that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id = current_trace_id()
        record.trace_id = trace_id
        record.trace = "" if trace_id is None else f" trace={trace_id}"
        return True


def configure_logging(log_format: Literal["text", "json"]) -> None:
    """Send mailcmd's logs to stderr in `log_format`.

    A line logged in a trace (`mailcmd.operations.traces`) names it: as the field `trace_id`
    in JSON, and as `trace=<id>` before the message in text.
    """
    # Neither format shows where a call was made nor by which thread or process, so
    # records skip finding out (the logging HOWTO's "Optimization"): a line is logged
    # for every SMTP transaction, and this was most of its cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    # On the handler, not a logger: it sees every record that is written, from
    # whichever logger, in the thread (and context) that logged it.
    handler.addFilter(_TraceFilter())
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s:%(trace)s %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
