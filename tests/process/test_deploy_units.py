"""The systemd units mailcmd ships: they parse, run commands that exist, and `serve` speaks
systemd's readiness protocol."""

import configparser
import shlex
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

from mailcmd.runtime.server import SHUTDOWN_GRACE_SECONDS
from mailcmd.settings import Settings
from tests.servers import TIMEOUT, clean_environment, mailcmd_command, serve_process

UNITS = ("mailcmd.service", "mailcmd-worker@.service")
INSTALLED = "/opt/mailcmd/bin/mailcmd"
README = Path(__file__).parents[2] / "README.md"


def unit_text(name: str) -> str:
    return (files("mailcmd") / "operations" / "deploy" / name).read_text()


def service_section(name: str) -> configparser.SectionProxy:
    # systemd allows a key more than once (Environment=); the last one is enough here.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit_text(name))
    return parser["Service"]


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path, name: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("needs systemd-analyze (Debian package systemd)")
    # The unit names where the README installs mailcmd; here, this checkout's.
    here = Path(sys.executable).parent / "mailcmd"
    (tmp_path / name).write_text(unit_text(name).replace(INSTALLED, str(here)))
    instance = name.replace("@.", "@1.")

    result = subprocess.run(
        [analyze, "verify", str(tmp_path / instance)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_runs_a_command_that_exists(name: str) -> None:
    [program, *arguments] = shlex.split(service_section(name)["ExecStart"])

    result = subprocess.run(
        [*mailcmd_command(), *arguments, "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert program == INSTALLED
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_waits_for_the_graceful_stop(name: str) -> None:
    service = service_section(name)
    defaults = Settings()
    # The stop's stages, one after another (see `run_services`): SMTP transactions,
    # the running handler and one given up on, then relay deliveries in flight.
    longest_stop = (
        SHUTDOWN_GRACE_SECONDS + 2 * defaults.worker.handler_timeout + defaults.relay.timeout
    )

    assert service["Type"] == "notify"
    assert service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"]) >= longest_stop
    assert service["Restart"] == "on-failure"


def test_only_serve_reloads_on_sighup() -> None:
    # SIGHUP loads the certificate again in `serve`; a worker has none to load.
    assert service_section("mailcmd.service")["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert "ExecReload" not in service_section("mailcmd-worker@.service")


@pytest.mark.parametrize("name", UNITS)
def test_the_readme_shows_the_unit_as_shipped(name: str) -> None:
    assert f"```ini\n{unit_text(name)}```" in README.read_text()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket where systemd would listen for `sd_notify`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(tmp_path / "notify"))
        listener.settimeout(TIMEOUT)
        yield listener


def test_serve_tells_systemd_it_is_ready_once_bound_and_when_it_stops(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    env = clean_environment(NOTIFY_SOCKET=notify_socket.getsockname())

    with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as served:
        ready = notify_socket.recv(4096)
        with smtplib.SMTP("127.0.0.1", served.port("submission"), timeout=TIMEOUT) as client:
            greeting = client.noop()[0]
        served.process.send_signal(signal.SIGTERM)
        stopping = notify_socket.recv(4096)
        assert served.process.wait(TIMEOUT) == 0

    assert ready == b"READY=1"
    assert greeting == 250
    assert stopping == b"STOPPING=1"
