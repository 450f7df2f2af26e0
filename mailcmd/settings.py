"""The one typed settings object: defaults, then `mailcmd.toml`, then `MAILCMD_*` variables."""

import ipaddress
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from mailcmd.addressing.domains import DEFAULT_DOMAIN, checked_domain, checked_domains
from mailcmd.app.resources import bundled_path
from mailcmd.app.schedules import Cron, TriggerError
from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError

CONFIG_FILE_NAME = "mailcmd.toml"
CONFIG_ENV_VAR = "MAILCMD_CONFIG"
ENV_PREFIX = "MAILCMD_"
ENV_NESTED_DELIMITER = "__"

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


DNS_PORT = 53
# How long a copy of a message can still arrive: a sending server retries a message
# whose 250 it never saw for 4-5 days (RFC 5321 section 4.5.4.1; Postfix's
# maximal_queue_lifetime is 5 days), and the loop guards must still know it then.
LOOP_GUARD_DAYS = 5
MAX_PORT = 65535
# How a listener's port is turned off in `mailcmd.toml` and `MAILCMD_*` variables,
# which have no null; in Python it is `None`.
OFF = "off"


class SettingsError(MailcmdError):
    """Settings could not be read or are invalid; the message is one line for the operator."""

    exit_code = EXIT_BAD_SETTINGS


def parse_nameserver(text: str) -> tuple[str, int]:
    """Return the IP address and port of `1.2.3.4`, `1.2.3.4:5353`, `::1` or `[::1]:5353`.

    Raises `ValueError` for anything else: a name server is given by address, never by
    a name that would itself need resolving.
    """
    value = text.strip()
    host, port = value, DNS_PORT
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"not an address with a port: {text!r}")
            port = int(rest[1:])
    elif value.count(":") == 1:
        host, _, digits = value.partition(":")
        if not digits.isdigit():
            raise ValueError(f"not an address with a port: {text!r}")
        port = int(digits)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"not an IP address: {text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return str(address), port


def parse_listener_port(value: object) -> int | None:
    """Return the port a listener setting asks for: a number, 0 for any free port, None for off.

    Takes an int, its digits as text, `None` or `"off"` (in any case). Raises
    `ValueError` with one line for anything else, `true` and `false` among them.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == OFF:
            return None
        if text.isascii() and text.isdigit():
            value = int(text)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PORT:
        return value
    raise ValueError(f'not a port: a number up to {MAX_PORT}, 0 for any free port, or "{OFF}"')


# A port a server listens on: a number, 0 for one the system picks when it starts,
# or None for off (written "off", which is also how it is shown).
ListenerPort = Annotated[
    int | None,
    BeforeValidator(parse_listener_port),
    PlainSerializer(lambda port: OFF if port is None else port),
]


class SmtpSettings(BaseModel):
    """The `[smtp]` table: where the receiver listens and the limits it enforces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    submission_port: ListenerPort = Field(default=8587, description="STARTTLS")
    smtps_port: ListenerPort = Field(default=8465, description="implicit TLS")
    mx_port: ListenerPort = Field(default=None, description="mail from other servers")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_message_size: int = Field(default=25 * MIB, gt=0)
    max_recipients: int = Field(default=100, gt=0)
    max_connections: int = Field(default=1000, gt=0)
    timeout: float = Field(default=300.0, gt=0, description="seconds a client may stay idle")
    relay_authenticated: bool = Field(
        default=False, description="let logged-in accounts send to other domains"
    )
    # The MX port's DKIM, SPF and DMARC checks wait on the sender's DNS: they have
    # threads of their own and a budget, so a slow domain delays only its own mail.
    mx_check_seconds: float = Field(
        default=10.0, gt=0, description="seconds the checks of one MX message may take in all"
    )
    mx_check_threads: int = Field(default=8, gt=0, description="threads for the MX checks")
    mx_checks_per_client: int = Field(
        default=2, gt=0, description="messages of one client address checked at once"
    )
    # A brake on a runaway client or a stolen password, answered at MAIL with a 451
    # the client retries on: a logged-in account's commands are never dropped.
    account_message_rate_limit: int = Field(
        default=500, gt=0, description="messages per hour one logged-in account may submit"
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> "SmtpSettings":
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be set together")
        return self


class ImapSettings(BaseModel):
    """The `[imap]` table: where the mailbox server listens and the limits it enforces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = Field(default=None, description="default: smtp.host")
    port: ListenerPort = Field(default=8143, description="STARTTLS")
    tls_port: ListenerPort = Field(default=8993, description="implicit TLS")
    max_connections: int = Field(default=1000, gt=0)
    max_line_length: int = Field(default=65536, ge=1024, description="bytes per command line")
    login_timeout: float = Field(default=60.0, gt=0, description="seconds to log in")
    timeout: float = Field(default=1800.0, gt=0, description="seconds a logged-in client may idle")
    idle_timeout: float = Field(default=1800.0, gt=0, description="seconds one IDLE may last")
    check_seconds: float = Field(
        default=30.0, gt=0, description="how often an IDLE looks for changes unannounced"
    )
    quota: int = Field(default=GIB, ge=0, description="bytes of mail per account; 0: no quota")
    max_folders: int = Field(default=1000, gt=0, description="folders per account")
    app_folder_limit: int = Field(
        default=500, gt=0, description="messages an app folder shows, the newest objects"
    )
    max_literal_memory: int = Field(
        default=256 * MIB, gt=0, description="bytes of literals all clients may send at once"
    )
    # A literal holds its share of max_literal_memory while it arrives: as Postfix's
    # smtpd_min_data_rate, bytes received buy time at a minimum rate, never more than
    # literal_timeout ahead, so a client that stops sending is let go within that.
    # The same pace holds for what the server sends: a client that stops reading
    # is let go, and the responses it left unread with it.
    literal_timeout: float = Field(
        default=60.0, gt=0, description="seconds a literal may lag behind literal_min_rate"
    )
    literal_min_rate: int = Field(
        default=32 * KIB, gt=0, description="bytes per second a literal must keep up on average"
    )


class AutoconfigSettings(BaseModel):
    """The `[autoconfig]` table: the mail-client autoconfiguration document and its listener."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hostname: str | None = Field(
        default=None,
        description="the server name clients connect to; default: smtp.host, or domain",
    )
    host: str | None = Field(default=None, description="address to listen on; default: smtp.host")
    port: ListenerPort = Field(default=None, description="HTTP")


class MetricsSettings(BaseModel):
    """The `[metrics]` table: the HTTP listener that serves `/metrics` and `/healthz`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: ListenerPort = Field(
        default=None, description="HTTP port of `mailcmd serve`; `mailcmd worker --metrics-port`"
    )
    timeout: float = Field(
        default=10.0, gt=0, description="seconds a client may take to send its request"
    )


class AuthSettings(BaseModel):
    """The `[auth]` table: how failed logins are slowed down and locked out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_delay: float = Field(default=0.5, ge=0, description="seconds after a first failure")
    max_failure_delay: float = Field(default=8.0, ge=0, description="cap of the growing delay")
    lockout_failures: int = Field(default=10, gt=0, description="failures that lock a login")
    client_lockout_failures: int = Field(default=30, gt=0, description="... or a client address")
    lockout_seconds: float = Field(default=900.0, gt=0, description="how long a lockout lasts")
    cache_seconds: float = Field(default=60.0, ge=0, description="how long a login is remembered")


class RelaySettings(BaseModel):
    """The `[relay]` table: the smarthost that takes mail for other domains."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = Field(default=None, description="no host: mail for other domains waits")
    port: int = Field(default=587, ge=1, le=65535)
    starttls: Literal["required", "opportunistic", "off"] = "required"
    tls_verify: bool = True
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    timeout: float = Field(default=60.0, gt=0, description="seconds per SMTP step")
    concurrency: int = Field(default=4, gt=0, description="messages sent at once")
    keep_open_seconds: float = Field(
        default=10.0,
        ge=0,
        description="seconds an idle relay connection waits for the next message; 0: none kept",
    )
    retry_seconds: float = Field(default=60.0, gt=0, description="first retry; doubles")
    max_retry_seconds: float = Field(default=3600.0, gt=0, description="cap of the retry delay")
    max_delivery_age: float = Field(
        default=5 * 24 * 3600.0, gt=0, description="seconds before a message fails for good"
    )

    def secret(self) -> str | None:
        """The relay password, from `password` or the first line of `password_file`."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text().splitlines()[0]
        return None


# A DKIM selector is one or more DNS labels (RFC 6376 section 3.1); it also names
# the key's file, so it can never hold a slash.
_DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DKIM_SELECTOR_PATTERN = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")


class DkimSettings(BaseModel):
    """The `[dkim]` table: the keys outbound mail is signed with, one per domain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    selector: str = Field(
        default="mailcmd", description="the key's DNS name: <selector>._domainkey.<domain>"
    )
    key_file: Path | None = Field(
        default=None,
        description="the default domain's key; default: state_dir/dkim/<selector>.key,"
        " if it exists",
    )

    @field_validator("selector")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        if not DKIM_SELECTOR_PATTERN.fullmatch(value):
            raise ValueError("not a DNS name (letters, digits and hyphens; dots between labels)")
        return value


class WorkerSettings(BaseModel):
    """The `[worker]` table: how stored messages become handler calls and replies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency: int = Field(
        default=4, gt=0, description="batches of up to 10 messages processed at once"
    )
    max_attempts: int = Field(default=5, gt=0, description="tries before a message fails")
    retry_seconds: float = Field(default=30.0, gt=0, description="first retry delay; doubles")
    handler_timeout: float = Field(default=30.0, gt=0, description="seconds a handler may run")
    poll_seconds: float = Field(default=5.0, gt=0, description="how often to look for retries")
    reply_rate_limit: int = Field(
        default=30, gt=0, description="replies per hour to one address that acts for no account"
    )
    notification_rate_limit: int = Field(
        default=30, gt=0, description="notifications per hour to one address"
    )
    confirm_rate_limit: int = Field(
        default=10,
        gt=0,
        description="mails per hour to confirm@ from one stranger's address, and from one client",
    )
    confirmation_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="seconds a command that asks for confirmation waits for the confirming reply",
    )


class AlertSettings(BaseModel):
    """The `[alerts]` table: when the `admin` accounts get mail about trouble."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue_delay_minutes: float = Field(
        default=15.0,
        gt=0,
        description="alert when an inbound message has waited this long for the worker",
    )
    check_seconds: float = Field(
        default=60.0, gt=0, description="how often each worker looks for something to alert about"
    )


class RetentionSettings(BaseModel):
    """The `[retention]` table: how many days finished work is kept before the purge removes it.

    `0` keeps that kind for ever. The loop guards read processed Message-IDs and the
    Message-IDs of delivered mail: those are kept at least `LOOP_GUARD_DAYS`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    inbound_text_days: int = Field(
        default=7,
        ge=0,
        description="days a processed (done or failed) inbound message keeps its text;"
        " then only its envelope and outcome",
    )
    message_id_days: int = Field(
        default=14,
        ge=0,
        description="days a processed Message-ID is remembered, so a copy sent again is not run",
    )
    delivered_days: int = Field(default=7, ge=0, description="days a delivered outbox row is kept")
    failed_days: int = Field(default=30, ge=0, description="days a failed outbox row is kept")
    inbox_days: int = Field(
        default=0,
        ge=0,
        description="days mail stays in the accounts' INBOX folders; 0: until removed",
    )
    schedule: str = Field(
        default="30 3 * * *", description="cron time of the daily purge, in `timezone`"
    )

    @field_validator("message_id_days", "delivered_days")
    @classmethod
    def _long_enough_for_loop_guards(cls, value: int) -> int:
        if 0 < value < LOOP_GUARD_DAYS:
            raise ValueError(
                f"at least {LOOP_GUARD_DAYS} days (or 0 to keep for ever): the loop guards"
                " must recognise a copy that a sending server retries for that long"
            )
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            Cron(value)
        except TriggerError as error:
            raise ValueError(str(error)) from None
        return value


# Each listener's name, as start-up lines and logs call it, and the setting of its port.
LISTENER_PORT_KEYS = {
    "submission": "smtp.submission_port",
    "submissions": "smtp.smtps_port",
    "mx": "smtp.mx_port",
    "imap": "imap.port",
    "imaps": "imap.tls_port",
    "autoconfig": "autoconfig.port",
    "metrics": "metrics.port",
}


class Settings(BaseSettings):
    """Every setting of a mailcmd installation, validated and with paths made absolute."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
    )

    domain: str = Field(
        default="",
        description="the one domain mailcmd answers for; default: the first of domains,"
        " else app.localhost",
    )
    domains: tuple[str, ...] = Field(
        default=(),
        description="the domains mailcmd answers for; the first is the default, which mail"
        " that answers no mail (a scheduled job's) comes from",
    )
    state_dir: Path = Path(".mailcmd")
    database_url: str = Field(default="", description="default: SQLite file in state_dir")
    commands: Path = Field(default_factory=lambda: bundled_path("commands"))
    templates: Path = Field(default_factory=lambda: bundled_path("templates"))
    migrations: Path | None = Field(
        default=None,
        description="the app's migrations folder; default: migrations/ beside the commands"
        " folder (the bundled app's own for the bundled commands)",
    )
    log_format: Literal["text", "json"] = "text"
    timezone: str = Field(default="UTC", description="time zone of scheduled jobs' cron times")
    dns_resolver: str | None = Field(
        default=None,
        description="DNS server (IP address, optional :port) for checking inbound mail;"
        " default: the system's",
    )
    smtp: SmtpSettings = SmtpSettings()
    imap: ImapSettings = ImapSettings()
    autoconfig: AutoconfigSettings = AutoconfigSettings()
    metrics: MetricsSettings = MetricsSettings()
    auth: AuthSettings = AuthSettings()
    worker: WorkerSettings = WorkerSettings()
    relay: RelaySettings = RelaySettings()
    dkim: DkimSettings = DkimSettings()
    alerts: AlertSettings = AlertSettings()
    retention: RetentionSettings = RetentionSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment wins over the file's values, which arrive as init arguments."""
        return (env_settings, init_settings)

    @field_validator("domain")
    @classmethod
    def _one_domain(cls, value: str) -> str:
        return checked_domain(value) if value else value

    @field_validator("domains")
    @classmethod
    def _several_domains(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return checked_domains(value, info.data.get("domain") or None)

    @model_validator(mode="after")
    def _complete(self) -> "Settings":
        domains = self.domains or (self.domain or DEFAULT_DOMAIN,)
        object.__setattr__(self, "domains", domains)
        object.__setattr__(self, "domain", domains[0])
        state_dir = self.state_dir.absolute()
        object.__setattr__(self, "state_dir", state_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{state_dir / 'mailcmd.db'}")
        if self.migrations is None:
            object.__setattr__(self, "migrations", default_migrations(self.commands))
        return self

    @property
    def app_migrations(self) -> Path:
        """The app's migrations folder, as set or by default."""
        return self.migrations or default_migrations(self.commands)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name like Europe/Berlin)"
            ) from None
        return value

    def listener_ports(self) -> dict[str, int | None]:
        """Each listener's name and the port asked for: None is off, 0 any free port."""
        ports = {}
        for name, key in LISTENER_PORT_KEYS.items():
            table, _, field = key.partition(".")
            ports[name] = getattr(getattr(self, table), field)
        return ports

    @property
    def zone(self) -> ZoneInfo:
        """The `timezone` setting as a time zone."""
        return ZoneInfo(self.timezone)

    @field_validator("dns_resolver")
    @classmethod
    def _nameserver(cls, value: str | None) -> str | None:
        if value is not None:
            parse_nameserver(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _parseable_url(cls, value: str) -> str:
        if value:
            try:
                make_url(value)
            except ArgumentError:
                raise ValueError("not a database URL (e.g. postgresql://user@host/db)") from None
        return value


@dataclass(frozen=True)
class SettingSource:
    """Where one effective setting came from."""

    kind: Literal["default", "file", "environment"]
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


def default_migrations(commands: Path) -> Path:
    """Where the app in `commands` keeps its migrations unless told: `migrations/` beside it.

    The bundled commands have theirs among mailcmd's own migrations, since the
    folder beside them holds the framework's.
    """
    if commands.resolve() == bundled_path("commands").resolve():
        return bundled_path("migrations") / "app"
    return commands.parent / "migrations"


@dataclass(frozen=True)
class LoadedSettings:
    """Settings together with the file they were read from and each key's source."""

    settings: Settings
    config_file: Path | None
    sources: Mapping[str, SettingSource]


# Keys holding paths: a relative path in the file is relative to the file's folder.
_PATH_KEYS = (
    "state_dir",
    "commands",
    "templates",
    "migrations",
    "smtp.tls_cert",
    "smtp.tls_key",
    "relay.password_file",
    "dkim.key_file",
)


def find_config_file(explicit: Path | None) -> Path | None:
    """Return the config file to read: `explicit`, else `$MAILCMD_CONFIG`, else `./mailcmd.toml`.

    An explicitly named file must exist; the file in the current folder is optional.
    """
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        return Path(from_env)
    default = Path(CONFIG_FILE_NAME)
    return default if default.exists() else None


def load_settings(config_file: Path | None = None) -> LoadedSettings:
    """Read the settings from `config_file` (see `find_config_file`) and the environment.

    Raises `SettingsError` naming the file or variable and the key for anything
    unreadable, unknown or of the wrong type.
    """
    path = find_config_file(config_file)
    file_values = _read_toml(path) if path is not None else {}
    env_values = EnvSettingsSource(Settings)()
    env_keys = dict(_flatten(env_values))
    file_keys = dict(_flatten(file_values))
    try:
        settings = Settings(**file_values)
    except ValidationError as error:
        raise SettingsError(_describe_error(error, path, env_keys)) from None
    sources: dict[str, SettingSource] = {}
    for key in dict(_flatten(settings.model_dump())):
        if key in env_keys:
            sources[key] = SettingSource("environment", env_name(key))
        elif key in file_keys and path is not None:
            sources[key] = SettingSource("file", str(path))
        else:
            sources[key] = SettingSource("default")
    return LoadedSettings(settings=settings, config_file=path, sources=sources)


def env_name(key: str) -> str:
    """Return the environment variable that sets the dotted settings key `key`."""
    return ENV_PREFIX + key.replace(".", ENV_NESTED_DELIMITER).upper()


def flat_settings(settings: Settings) -> dict[str, Any]:
    """Return the settings as dotted keys (`smtp.submission_port`) and values."""
    return dict(_flatten(settings.model_dump()))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            values = tomllib.load(file)
    except OSError as error:
        raise SettingsError(f"{path}: cannot read: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    base = path.parent.absolute()
    for key in _PATH_KEYS:
        table, _, name = key.rpartition(".")
        holder = values.get(table) if table else values
        if isinstance(holder, dict) and isinstance(holder.get(name), str):
            holder[name] = str(base / Path(holder[name]).expanduser())
    return values


def _describe_error(error: ValidationError, path: Path | None, env_keys: Mapping[str, Any]) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    # A table-wide error (two keys that must agree) names its keys in its message; it
    # is blamed on the variables that set one of those keys, if any did.
    from_env = [
        name
        for name in env_keys
        if key and name.startswith(key + ".") and name.rpartition(".")[2] in message
    ]
    if key in env_keys or (key and from_env):
        names = ", ".join(env_name(name) for name in (from_env or [key]))
        where = f"environment variable{'s' if len(from_env) > 1 else ''} {names}"
    elif path is not None:
        where = str(path)
    else:
        where = "defaults"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {key or 'settings'}: {message}{more}"


def _flatten(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value
