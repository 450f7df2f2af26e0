"""Every metric mailcmd keeps, defined once; the parts of the pipeline count into them.

The counters, gauges and histograms are this process's own (`REGISTRY`, with the
process's CPU, memory and file descriptors): several processes are several scrape
targets, added up in the queries. Labels take few values (a port's name, a
status, an outcome, a registered command), never an address or a message.
"""

from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

from mailcmd.db.models import QueueStatus
from mailcmd.db.types import utc_now
from mailcmd.runtime.attempts import ClaimLost, Outcome

# A `_created` series beside every counter doubles what is scraped and says nothing
# a restart (seen in `process_start_time_seconds`) does not.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in 0.26

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

# Handlers are given `worker.handler_timeout` (30 s by default).
HANDLER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A reply normally follows in well under a second; retries and a queue behind take
# minutes to hours.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

SMTP_CONNECTIONS = Counter(
    "mailcmd_smtp_connections",
    "SMTP connections accepted, by port",
    ["port"],
    registry=REGISTRY,
)
SMTP_CONNECTIONS_OPEN = Gauge(
    "mailcmd_smtp_connections_open",
    "SMTP connections open now, by port",
    ["port"],
    registry=REGISTRY,
)
SMTP_TRANSACTIONS = Counter(
    "mailcmd_smtp_transactions",
    "SMTP transactions by port and the class of their final reply (a refusal at MAIL,"
    " RCPT or DATA, or the answer to DATA)",
    ["port", "code_class"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "mailcmd_auth_failures",
    "logins (SMTP AUTH, IMAP LOGIN and AUTHENTICATE) refused for wrong credentials",
    registry=REGISTRY,
)
AUTH_LOCKOUTS = Counter(
    "mailcmd_auth_lockouts",
    "logins refused unchecked because the login or the client address is locked out",
    registry=REGISTRY,
)
MESSAGES_RECEIVED = Counter(
    "mailcmd_messages_received",
    "messages stored in the inbound queue (answered 250 after DATA), by port",
    ["port"],
    registry=REGISTRY,
)
MESSAGES_PROCESSED = Counter(
    "mailcmd_messages_processed",
    "inbound messages the worker finished an attempt at, by outcome: done, refused"
    " (answered with a refusal), ignored (automatic mail, a duplicate), retried, failed",
    ["outcome"],
    registry=REGISTRY,
)
HANDLER_DURATION = Histogram(
    "mailcmd_handler_duration_seconds",
    "seconds one command's handler ran, by mailbox and verb",
    ["mailbox", "verb"],
    buckets=HANDLER_BUCKETS,
    registry=REGISTRY,
)
REPLY_LATENCY = Histogram(
    "mailcmd_reply_latency_seconds",
    "seconds from the end of a message's DATA to the commit that stored its replies",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
RELAY_DELIVERIES = Counter(
    "mailcmd_relay_deliveries",
    "attempts to hand outbox mail to the relay, by result: sent, temporary, permanent, error",
    ["result"],
    registry=REGISTRY,
)
MAILS_HELD_BACK = Counter(
    "mailcmd_mails_held_back",
    "replies and notifications the hourly rate limits held back, by kind",
    ["kind"],
    registry=REGISTRY,
)
IMAP_SESSIONS = Counter(
    "mailcmd_imap_sessions",
    "IMAP sessions begun",
    registry=REGISTRY,
)
IMAP_SESSIONS_OPEN = Gauge(
    "mailcmd_imap_sessions_open",
    "IMAP sessions open now",
    registry=REGISTRY,
)

# Labels known in advance start at zero, so that a rate is there before the first event.
for outcome in ("done", "refused", "ignored", "retried", "failed"):
    MESSAGES_PROCESSED.labels(outcome)
for result in ("sent", "temporary", "permanent", "error"):
    RELAY_DELIVERIES.labels(result)
for kind in ("reply", "notification"):
    MAILS_HELD_BACK.labels(kind)


def count_smtp_connection(port: str, *, opened: bool) -> None:
    """Count an SMTP connection on `port` that opened (and is open), or that closed."""
    if opened:
        SMTP_CONNECTIONS.labels(port).inc()
        SMTP_CONNECTIONS_OPEN.labels(port).inc()
    else:
        SMTP_CONNECTIONS_OPEN.labels(port).dec()


def count_smtp_transaction(port: str, reply: str) -> None:
    """Count one SMTP transaction on `port` ended by `reply` (`250 2.0.0 ...`)."""
    first = reply[:1]
    SMTP_TRANSACTIONS.labels(port, f"{first}xx" if first in ("2", "4", "5") else "other").inc()


def count_processed(outcome: Outcome, received_at: datetime) -> None:
    """Count one committed attempt at a message received at `received_at`.

    A message that was answered (done or refused) has its replies stored by the
    same commit: its time since the end of DATA is the reply's latency. An attempt
    whose claim was lost committed nothing, and is not counted.
    """
    if outcome.status == ClaimLost.LOST:
        return
    if outcome.status == QueueStatus.DEFERRED:
        label = "retried"
    elif outcome.status == QueueStatus.FAILED:
        label = "failed"
    else:
        label = outcome.ending
    MESSAGES_PROCESSED.labels(label).inc()
    if label in ("done", "refused"):
        REPLY_LATENCY.observe(max((utc_now() - received_at).total_seconds(), 0.0))
