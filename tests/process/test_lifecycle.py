"""How `mailcmd serve` and `mailcmd worker` stop and reload, as an operator sees it."""

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import Cli
from tests.servers import (
    TIMEOUT,
    ServeProcess,
    mailcmd_command,
    serve_process,
    wait_until,
    worker_environment,
)

# Generous: an idle process has nothing to wait for, and must never hang.
IDLE_STOP_SECONDS = 5.0


@contextmanager
def running(command: str, database_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    """`mailcmd <command>` on the accounts' database, once it says it is ready."""
    env = worker_environment(database_url, tmp_path)
    with serve_process([*mailcmd_command(), command], cwd=tmp_path, env=env) as process:
        yield process


def test_an_idle_serve_stops_on_sigterm_at_once_and_says_so(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    with running("serve", database_url, tmp_path) as served:
        served.process.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        exit_code = served.process.wait(TIMEOUT)
        took = time.monotonic() - asked
        logged = served.logged()

    assert exit_code == 0
    assert took < IDLE_STOP_SECONDS
    lines = logged.splitlines()
    assert any("stopping: no new connections" in line for line in lines)
    assert lines[-1].endswith("stopped")


def test_a_worker_process_lives_through_sighup_and_says_it_has_nothing_to_reload(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    with running("worker", database_url, tmp_path) as worker:
        worker.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: any("nothing to reload" in line for line in worker.errors),
            "the SIGHUP heard",
        )
        assert worker.process.poll() is None
        assert worker.stop(signal.SIGTERM) == 0
