"""Settings from defaults, `mailcmd.toml` and `MAILCMD_*`, as `mailcmd config show` reports them."""

import json
from pathlib import Path

import pytest

from mailcmd.app.resources import bundled_path
from tests.conftest import Cli


def shown(cli: Cli, *args: str) -> dict[str, dict[str, object]]:
    result = cli(*args, "config", "show", "--json")
    assert result.exit_code == 0, result.stderr
    values: dict[str, dict[str, object]] = json.loads(result.stdout)
    return values


@pytest.fixture
def bare_cli(empty_cli: Cli) -> Cli:
    """The command line with no settings in the environment at all."""
    return Cli(env={})


def test_no_file_gives_the_documented_defaults(bare_cli: Cli) -> None:
    values = shown(bare_cli)

    expected = {
        "domain": "app.localhost",
        "domains": ["app.localhost"],
        "state_dir": str(Path.cwd() / ".mailcmd"),
        "database_url": f"sqlite:///{Path.cwd() / '.mailcmd' / 'mailcmd.db'}",
        "commands": str(bundled_path("commands")),
        "templates": str(bundled_path("templates")),
        "migrations": str(bundled_path("migrations") / "app"),
        "log_format": "text",
        "timezone": "UTC",
        "dns_resolver": None,
        "smtp.host": "127.0.0.1",
        "smtp.submission_port": 8587,
        "smtp.smtps_port": 8465,
        "smtp.mx_port": "off",
        "smtp.tls_cert": None,
        "smtp.tls_key": None,
        "smtp.max_message_size": 25 * 1024 * 1024,
        "smtp.max_recipients": 100,
        "smtp.max_connections": 1000,
        "smtp.timeout": 300.0,
        "smtp.relay_authenticated": False,
        "smtp.mx_check_seconds": 10.0,
        "smtp.mx_check_threads": 8,
        "smtp.mx_checks_per_client": 2,
        "smtp.account_message_rate_limit": 500,
        "imap.host": None,
        "imap.port": 8143,
        "imap.tls_port": 8993,
        "imap.max_connections": 1000,
        "imap.max_line_length": 65536,
        "imap.login_timeout": 60.0,
        "imap.timeout": 1800.0,
        "imap.idle_timeout": 1800.0,
        "imap.check_seconds": 30.0,
        "imap.quota": 1024 * 1024 * 1024,
        "imap.max_folders": 1000,
        "imap.app_folder_limit": 500,
        "imap.max_literal_memory": 256 * 1024 * 1024,
        "imap.literal_timeout": 60.0,
        "imap.literal_min_rate": 32 * 1024,
        "auth.failure_delay": 0.5,
        "auth.max_failure_delay": 8.0,
        "auth.lockout_failures": 10,
        "auth.client_lockout_failures": 30,
        "auth.lockout_seconds": 900.0,
        "auth.cache_seconds": 60.0,
        "worker.concurrency": 4,
        "worker.max_attempts": 5,
        "worker.retry_seconds": 30.0,
        "worker.handler_timeout": 30.0,
        "worker.poll_seconds": 5.0,
        "worker.reply_rate_limit": 30,
        "worker.notification_rate_limit": 30,
        "worker.confirm_rate_limit": 10,
        "worker.confirmation_seconds": 86400.0,
        "relay.host": None,
        "relay.port": 587,
        "relay.starttls": "required",
        "relay.tls_verify": True,
        "relay.username": None,
        "relay.password": None,
        "relay.password_file": None,
        "relay.timeout": 60.0,
        "relay.concurrency": 4,
        "relay.keep_open_seconds": 10.0,
        "relay.retry_seconds": 60.0,
        "relay.max_retry_seconds": 3600.0,
        "relay.max_delivery_age": 432000.0,
        "dkim.selector": "mailcmd",
        "dkim.key_file": None,
        "autoconfig.hostname": None,
        "autoconfig.host": None,
        "autoconfig.port": "off",
        "metrics.host": "127.0.0.1",
        "metrics.port": "off",
        "metrics.timeout": 10.0,
        "alerts.queue_delay_minutes": 15.0,
        "alerts.check_seconds": 60.0,
        "retention.inbound_text_days": 7,
        "retention.message_id_days": 14,
        "retention.delivered_days": 7,
        "retention.failed_days": 30,
        "retention.inbox_days": 0,
        "retention.schedule": "30 3 * * *",
    }
    assert {key: entry["value"] for key, entry in values.items()} == expected
    assert {entry["source"] for entry in values.values()} == {"default"}


def test_file_in_current_folder_is_read_and_environment_wins(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("mailcmd.toml").write_text(
        'domain = "example.org"\n[smtp]\nsubmission_port = 2587\nmx_port = 25\n'
    )
    monkeypatch.setenv("MAILCMD_SMTP__SUBMISSION_PORT", "3587")

    values = shown(bare_cli)

    assert values["domain"] == {"value": "example.org", "source": "file (mailcmd.toml)"}
    assert values["smtp.mx_port"]["value"] == 25
    assert values["smtp.submission_port"] == {
        "value": 3587,
        "source": "environment (MAILCMD_SMTP__SUBMISSION_PORT)",
    }
    assert values["smtp.smtps_port"]["source"] == "default"


def test_config_option_beats_config_variable(
    bare_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "chosen.toml"
    chosen.write_text('domain = "chosen.example"\n')
    ignored = tmp_path / "ignored.toml"
    ignored.write_text('domain = "ignored.example"\n')
    monkeypatch.setenv("MAILCMD_CONFIG", str(ignored))

    assert shown(bare_cli)["domain"]["value"] == "ignored.example"
    assert shown(bare_cli, "--config", str(chosen))["domain"]["value"] == "chosen.example"


def test_relative_paths_in_a_file_are_relative_to_the_file(bare_cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "etc" / "mailcmd.toml"
    config.parent.mkdir()
    config.write_text('state_dir = "state"\n[smtp]\ntls_cert = "c.pem"\ntls_key = "k.pem"\n')

    values = shown(bare_cli, "--config", str(config))

    assert values["state_dir"]["value"] == str(tmp_path / "etc" / "state")
    assert values["database_url"]["value"] == f"sqlite:///{tmp_path / 'etc' / 'state'}/mailcmd.db"
    assert values["smtp.tls_cert"]["value"] == str(tmp_path / "etc" / "c.pem")


def test_database_password_is_masked(bare_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCMD_DATABASE_URL", "postgresql://mail:s3cret@db.internal/mail")

    table = bare_cli("config", "show")

    assert table.exit_code == 0
    assert "s3cret" not in table.stdout
    assert "postgresql://mail:***@db.internal/mail" in table.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('domian = "x"\n', "mailcmd.toml: domian: unknown key"),
        ("[smtp]\nport = 25\n", "mailcmd.toml: smtp.port: unknown key"),
        (
            '[smtp]\nsubmission_port = "many"\n',
            "mailcmd.toml: smtp.submission_port: Value error, not a port",
        ),
        (
            "[smtp]\nsubmission_port = 70000\n",
            "mailcmd.toml: smtp.submission_port: Value error, not a port",
        ),
        ('log_format = "xml"\n', "mailcmd.toml: log_format: Input should be 'text' or 'json'"),
        ('[smtp]\ntls_cert = "c.pem"\n', "mailcmd.toml: smtp: Value error, tls_cert and tls_key"),
        ('database_url = "::"\n', "mailcmd.toml: database_url: Value error, not a database URL"),
        ("domain = \n", "mailcmd.toml: not valid TOML"),
        (
            "[alerts]\nqueue_delay_minutes = 0\n",
            "mailcmd.toml: alerts.queue_delay_minutes: Input should be greater than 0",
        ),
    ],
)
def test_bad_file_is_one_line_naming_file_and_key_with_exit_2(
    bare_cli: Cli, content: str, message: str
) -> None:
    Path("mailcmd.toml").write_text(content)

    result = bare_cli("config", "show")

    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"mailcmd: {message}")


def test_bad_environment_value_names_the_variable(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILCMD_SMTP__MAX_RECIPIENTS", "lots")

    result = bare_cli("users", "list")

    assert result.exit_code == 2
    assert result.stderr.startswith(
        "mailcmd: environment variable MAILCMD_SMTP__MAX_RECIPIENTS: smtp.max_recipients:"
    )


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_unreadable_config_file_is_exit_2(bare_cli: Cli, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nothing.toml"
    if kind == "folder":
        path.mkdir()

    result = bare_cli("--config", str(path), "config", "show")

    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"mailcmd: {path}: cannot read: ")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MAILCMD_TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("MAILCMD_DNS_RESOLVER", "dns.example", "not an IP address"),
        ("MAILCMD_DNS_RESOLVER", "192.0.2.53:99999", "port out of range"),
    ],
)
def test_bad_timezone_and_resolver_stop_with_one_line(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    result = bare_cli("config", "show")

    assert result.exit_code == 2
    assert expected in result.stderr
