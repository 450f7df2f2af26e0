"""A CLI command that fails prints one line and exits with its error's code, never a traceback."""

import subprocess
from pathlib import Path

import pytest

from mailcmd.errors import EXIT_BAD_SETTINGS, EXIT_REFUSED
from tests.servers import TIMEOUT, clean_environment, mailcmd_command


@pytest.mark.parametrize(
    ("overrides", "args", "code", "line"),
    [
        (
            {},
            ("users", "show", "ghost@app.localhost"),
            EXIT_REFUSED,
            "mailcmd: no account with login ghost@app.localhost",
        ),
        (
            {"MAILCMD_SMTP__SUBMISSION_PORT": "many"},
            ("users", "list"),
            EXIT_BAD_SETTINGS,
            "mailcmd: environment variable MAILCMD_SMTP__SUBMISSION_PORT: smtp.submission_port:"
            ' Value error, not a port: a number up to 65535, 0 for any free port, or "off"',
        ),
    ],
    ids=["request-refused", "bad-settings"],
)
def test_a_failing_command_prints_its_one_line_and_exit_code(
    tmp_path: Path, overrides: dict[str, str], args: tuple[str, ...], code: int, line: str
) -> None:
    result = subprocess.run(
        [*mailcmd_command(), *args],
        cwd=tmp_path,
        env=clean_environment(**overrides),
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )

    assert result.returncode == code
    assert result.stderr == f"{line}\n"
    assert result.stdout == ""
