"""One transaction per claimed batch, one savepoint per message in it.

Each message's effects, replies and new status are kept in its own savepoint; a
message that fails, runs past its time limit or finds its claim lost rolls back
its savepoint only, and its failure is recorded in the same transaction. The batch
commits once, at the end, unless the loop gave up on it: a crash before that
commit loses the whole batch, whose messages are claimed again when their lease
runs out, so no side effect is committed twice and none is lost.
"""

from collections.abc import Callable

from sqlalchemy.orm import Session

from mailcmd.db.database import Database
from mailcmd.operations.traces import traced
from mailcmd.runtime.attempts import Attempt, Batch, ClaimLost, Outcome
from mailcmd.runtime.claims import release
from mailcmd.runtime.handler_threads import HandlerAbandoned


class MessageSavepoint:
    """The savepoint that keeps one message's effects apart from the rest of its batch."""

    def __init__(self, session: Session) -> None:
        """Begin the savepoint in `session`."""
        self._session = session
        self._current = session.begin_nested()

    def start_again(self) -> None:
        """Undo everything the message did so far; what it does next is kept in a new savepoint.

        For whoever would otherwise need a savepoint of their own inside this one:
        one savepoint per message is half the savepoints of two.
        """
        self._current.rollback()
        self._current = self._session.begin_nested()

    def commit(self) -> None:
        """Keep what the message did, in the batch's transaction."""
        self._current.commit()

    def rollback(self) -> None:
        """Undo everything the message did."""
        self._current.rollback()


# Runs one claimed message's commands in the batch's session, in the message's savepoint.
RunOne = Callable[[Session, Attempt, MessageSavepoint], Outcome]
# Records why one message failed (an exception, or a reason in words) in the session.
FailOne = Callable[[Session, Attempt, BaseException | str], Outcome]


def run_batch(
    database: Database, batch: Batch, run: RunOne, fail: FailOne, timed_out: str
) -> list[tuple[Attempt, Outcome]]:
    """Process `batch` in one write transaction; return each attempt made and its outcome.

    `timed_out` is the failure recorded for a message given up on. Attempts not
    begun when the worker stops are handed back to the queue, unmade. An exception
    from here means nothing of the batch was committed.
    """
    made: list[tuple[Attempt, Outcome]] = []
    # With SQLite the batch holds the only write lock: nothing changes under it.
    refresh = not database.capabilities.single_writer
    with database.writing() as session:
        unbegun: list[Attempt] = []
        for attempt in batch.attempts:
            if batch.given_up:
                break  # it will not commit: nothing more is worth doing in it
            if batch.stopping.is_set():
                unbegun.append(attempt)
                continue
            if refresh and made:
                # Other writers commit while this batch runs: what an earlier message
                # loaded (the sender's account and roles, an app's rows) is read
                # afresh, as it would be in a transaction of its own.
                session.expire_all()
            batch.running = attempt
            # The handlers run in this thread: what they log, and the mail they
            # cause, is in the message's trace.
            with traced(attempt.message.trace_id):
                made.append((attempt, _one(session, attempt, run, fail, timed_out)))
            batch.running = None
        if unbegun:
            release(session.connection(), [attempt.message for attempt in unbegun])
        with batch.committing() as may:
            if not may:
                session.rollback()
                return []
            session.commit()
    return made


def _one(session: Session, attempt: Attempt, run: RunOne, fail: FailOne, timed_out: str) -> Outcome:
    savepoint = MessageSavepoint(session)
    try:
        with attempt.commands():
            outcome = run(session, attempt, savepoint)
    except HandlerAbandoned:
        # Raised only inside the handlers' block. Had it struck inside the driver,
        # SQLAlchemy has invalidated the connection, this rollback raises, and the
        # whole batch is rolled back instead.
        savepoint.rollback()
        return fail(session, attempt, timed_out)
    except Exception as error:
        savepoint.rollback()
        return fail(session, attempt, error)
    with attempt.lock:
        if attempt.state == "abandoned":
            savepoint.rollback()
            return fail(session, attempt, timed_out)
        if outcome.status == ClaimLost.LOST:
            savepoint.rollback()
            return outcome
        savepoint.commit()
        attempt.state = "committed"
    return outcome
