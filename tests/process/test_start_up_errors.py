"""What an operator sees when `mailcmd serve` or `mailcmd worker` cannot start: one line."""

import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import TIMEOUT, clean_environment, mailcmd_command, serve_process


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program is listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mailcmd_command(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "key"),
    [
        ("MAILCMD_SMTP__SUBMISSION_PORT", "smtp.submission_port"),
        ("MAILCMD_IMAP__TLS_PORT", "imap.tls_port"),
        ("MAILCMD_AUTOCONFIG__PORT", "autoconfig.port"),
        ("MAILCMD_METRICS__PORT", "metrics.port"),
    ],
)
def test_a_taken_port_is_one_line_naming_its_setting(
    tmp_path: Path, taken_port: int, variable: str, key: str
) -> None:
    env = clean_environment(MAILCMD_IMAP__PORT="0", MAILCMD_IMAP__TLS_PORT="0")
    env[variable] = str(taken_port)

    result = run(tmp_path, env, "serve")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # Log lines of the start (a certificate made) may come before; the error is last.
    assert result.stderr.splitlines()[-1] == (
        f"mailcmd: cannot listen on 127.0.0.1:{taken_port} ({key}): address already in use"
    )


def test_demo_on_a_taken_port_makes_no_account(tmp_path: Path, taken_port: int) -> None:
    env = clean_environment(MAILCMD_SMTP__SMTPS_PORT=str(taken_port))

    result = run(tmp_path, env, "serve", "--demo")
    listed = run(tmp_path, env, "users", "list")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "password" not in result.stdout
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "(none)\n"
    assert not (tmp_path / ".mailcmd" / "demo-password").exists()


def test_an_unreadable_certificate_is_one_line_naming_its_settings(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    env = clean_environment(MAILCMD_SMTP__TLS_CERT=str(missing), MAILCMD_SMTP__TLS_KEY=str(missing))

    result = run(tmp_path, env, "serve")

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"mailcmd: smtp.tls_cert, smtp.tls_key: cannot load {missing} with ")
    assert line.endswith(f"{missing}: No such file or directory")


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unreachable_database_is_one_line(tmp_path: Path, command: str) -> None:
    env = clean_environment(MAILCMD_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")

    result = run(tmp_path, env, command)

    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("mailcmd: cannot use the database (database_url): ")
    assert '"127.0.0.1", port 1 failed' in line


def test_the_banner_names_the_settings_file_read(tmp_path: Path) -> None:
    config = tmp_path / "mailcmd.toml"
    config.write_text('domain = "app.localhost"\n')
    command = [*mailcmd_command(), "serve", "--no-worker"]

    with serve_process(command, cwd=tmp_path, env=clean_environment()) as served:
        assert served.stop(signal.SIGTERM) == 0

    assert served.lines[0] == f"settings: {config} and MAILCMD_* environment variables"


def test_the_banner_says_when_no_settings_file_was_read(tmp_path: Path) -> None:
    command = [*mailcmd_command(), "serve", "--no-worker"]

    with serve_process(command, cwd=tmp_path, env=clean_environment()) as served:
        assert served.stop(signal.SIGTERM) == 0

    assert served.lines[0] == (
        "settings: no settings file; defaults and MAILCMD_* environment variables"
    )
