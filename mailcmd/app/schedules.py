"""When scheduled jobs are due: cron expressions and fixed intervals, as pure arithmetic.

A job's runs happen at slots: the times its trigger names. A worker runs a job when
the latest slot that has come is newer than the last one run, so a job runs once per
slot, and once only after downtime, however many slots it missed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError

# Interval slots count from this instant, so every worker computes the same ones.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class TriggerError(MailcmdError, ValueError):
    """A cron expression or an interval that names no usable times."""

    exit_code = EXIT_BAD_SETTINGS


@dataclass(frozen=True)
class Cron:
    """Slots at the times a five-field cron expression names, in the settings' time zone."""

    expression: str

    def __post_init__(self) -> None:
        try:
            CronSim(self.expression, datetime.now(UTC))
        except CronSimError as error:
            raise TriggerError(f"bad cron expression {self.expression!r}: {error}") from None

    def latest(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The latest slot at or before `now` (aware), as an aware UTC time."""
        local = now.astimezone(zone).replace(microsecond=0) + timedelta(seconds=1)
        return next(CronSim(self.expression, local, reverse=True)).astimezone(UTC)

    def describe(self) -> str:
        """The trigger as the operator reads it."""
        return f"cron {self.expression}"


@dataclass(frozen=True)
class Every:
    """Slots a fixed number of seconds apart."""

    seconds: float

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise TriggerError(f"an interval must be longer than 0 seconds, got {self.seconds}")

    def latest(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The latest slot at or before `now` (aware), as an aware UTC time."""
        elapsed = (now - EPOCH).total_seconds()
        return EPOCH + timedelta(seconds=(elapsed // self.seconds) * self.seconds)

    def describe(self) -> str:
        """The trigger as the operator reads it."""
        return f"every {self.seconds:g} s"


Trigger = Cron | Every


@dataclass(frozen=True)
class ScheduledJob:
    """A function the app runs at its trigger's slots, named `module.qualname`."""

    name: str
    trigger: Trigger
    function: Callable[..., object]
    # A framework job (the retention purge) is called once its slot is claimed and the
    # claim committed, and works in short transactions of its own: one long
    # transaction would hold SQLite's one writer. Its one argument says whether the
    # process is stopping: it then stops between transactions, and finishes its work
    # at the next slot.
    own_transactions: bool = False
