"""A listener's port setting: a number, 0 for any free port, "off" (None) for no listener."""

import re
from pathlib import Path

import pytest

from mailcmd.settings import (
    Settings,
    SettingsError,
    flat_settings,
    load_settings,
    parse_listener_port,
)

NOT_A_PORT = 'not a port: a number up to 65535, 0 for any free port, or "off"'


@pytest.mark.parametrize(
    ("given", "port"),
    [
        (0, 0),
        ("0", 0),
        (8587, 8587),
        ("8587", 8587),
        (" 25 ", 25),
        (65535, 65535),
        ("off", None),
        ("OFF", None),
        (None, None),
    ],
)
def test_a_port_is_a_number_zero_for_any_free_one_or_off(given: object, port: int | None) -> None:
    assert parse_listener_port(given) == port


@pytest.mark.parametrize("given", [-1, 65536, "70000", "of", "", "8587x", "٣", 1.5, True, False])
def test_anything_else_is_refused_in_one_line(given: object) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(NOT_A_PORT)}$"):
        parse_listener_port(given)


def test_defaults_keep_mx_autoconfig_and_metrics_off_and_the_others_on_their_ports() -> None:
    ports = Settings().listener_ports()

    assert ports == {
        "submission": 8587,
        "submissions": 8465,
        "mx": None,
        "imap": 8143,
        "imaps": 8993,
        "autoconfig": None,
        "metrics": None,
    }


def test_the_file_and_the_environment_say_off_and_zero_alike(
    no_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (no_environment / "mailcmd.toml").write_text(
        '[smtp]\nsubmission_port = 0\nsmtps_port = "off"\nmx_port = 2525\n'
        '[autoconfig]\nport = "0"\n'
    )
    monkeypatch.setenv("MAILCMD_IMAP__PORT", "off")
    monkeypatch.setenv("MAILCMD_IMAP__TLS_PORT", "0")

    ports = load_settings().settings.listener_ports()

    assert ports == {
        "submission": 0,
        "submissions": None,
        "mx": 2525,
        "imap": None,
        "imaps": 0,
        "autoconfig": 0,
        "metrics": None,
    }


def test_off_is_shown_as_it_is_written(no_environment: Path) -> None:
    shown = flat_settings(Settings(smtp={"submission_port": 0}))

    assert (shown["smtp.submission_port"], shown["smtp.mx_port"]) == (0, "off")
    assert Settings(smtp={"mx_port": shown["smtp.mx_port"]}).smtp.mx_port is None


def test_a_bad_port_in_the_file_is_one_line_naming_file_and_key(no_environment: Path) -> None:
    (no_environment / "mailcmd.toml").write_text("[smtp]\nmx_port = false\n")

    with pytest.raises(SettingsError) as refused:
        load_settings()

    assert str(refused.value) == f"mailcmd.toml: smtp.mx_port: Value error, {NOT_A_PORT}"


def test_a_bad_port_in_the_environment_names_the_variable(
    no_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILCMD_IMAP__TLS_PORT", "none")

    with pytest.raises(SettingsError) as refused:
        load_settings()

    assert str(refused.value) == (
        f"environment variable MAILCMD_IMAP__TLS_PORT: imap.tls_port: Value error, {NOT_A_PORT}"
    )
