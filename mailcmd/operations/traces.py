"""Trace ids: one per message, on every log line about it and in every mail it causes.

A trace id is minted when the receiver takes a message's DATA and stored with it;
the worker, the outbound path and the deliverer work inside it (`traced`), so that
the log lines they write carry it without any call naming it (`mailcmd.operations.logs` reads
it), and the mail they compose carries it in its `X-Mailcmd-Trace` header. Work
that starts from no message (a scheduled job's run, a confirmation the command line
queues) gets a trace of its own where it begins.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The header of every mail mailcmd sends that names the trace it was made in.
TRACE_HEADER = "X-Mailcmd-Trace"
# Eight random bytes: sixteen hex characters, short enough to paste, safe in URLs and
# headers, and unlikely to repeat among billions of messages.
_TRACE_BYTES = 8

_current: ContextVar[str | None] = ContextVar("mailcmd_trace_id", default=None)


def new_trace_id() -> str:
    """Return a fresh trace id: sixteen random hex characters."""
    return secrets.token_hex(_TRACE_BYTES)


def current_trace_id() -> str | None:
    """Return the trace id of the work in progress here, or None outside any."""
    return _current.get()


@contextmanager
def traced(trace_id: str | None) -> Iterator[None]:
    """Do the block's work in trace `trace_id` (None: in none), then return to the one before.

    A context variable: an asyncio task, and a thread started by `asyncio.to_thread`
    or `asyncio.run`, see the trace of whoever started them.
    """
    token = _current.set(trace_id)
    try:
        yield
    finally:
        _current.reset(token)
