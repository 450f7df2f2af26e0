"""The `domains` setting: checked, normalised, the first the default; `domain` still one."""

from pathlib import Path

import pytest

from mailcmd.addressing.domains import addressed_domain, checked_domains, is_ours
from mailcmd.operations.demo import DemoAccount, demo_lines
from mailcmd.settings import Settings, SettingsError, load_settings

NOT_A_DOMAIN = "is not a domain name (labels of letters, digits and hyphens, dots between them)"


def settings_file_error(folder: Path, text: str) -> str:
    path = folder / "mailcmd.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    return str(raised.value)


def test_the_first_of_domains_is_the_default_domain(no_environment: Path) -> None:
    settings = Settings(domains=["App.Example", "team.example"])

    assert settings.domains == ("app.example", "team.example")
    assert settings.domain == "app.example"


def test_domain_alone_is_one_domain_and_nothing_set_is_app_localhost(
    no_environment: Path,
) -> None:
    assert Settings(domain="app.example").domains == ("app.example",)
    assert Settings().domains == ("app.localhost",)
    assert Settings().domain == "app.localhost"


def test_domain_set_beside_domains_may_repeat_the_first(no_environment: Path) -> None:
    settings = Settings(domain="app.example", domains=["app.example", "team.example"])

    assert settings.domains == ("app.example", "team.example")


def test_internationalised_domains_are_kept_in_their_ascii_form(no_environment: Path) -> None:
    settings = Settings(domains=["Bücher.example", "team.example"])

    assert settings.domains == ("xn--bcher-kva.example", "team.example")
    assert Settings(domain="bücher.example").domain == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'domains = ["app.example", "team.example", "App.Example"]',
            "domains: Value error, app.example is listed twice",
        ),
        (
            'domains = ["app.example", "bad..example"]',
            f"domains: Value error, 'bad..example' {NOT_A_DOMAIN}",
        ),
        ('domain = "-app.example"', f"domain: Value error, '-app.example' {NOT_A_DOMAIN}"),
        (
            'domain = "team.example"\ndomains = ["app.example", "team.example"]',
            "domains: Value error, the default domain is the first of domains (app.example),"
            " but domain is team.example: set one of the two, or list team.example first",
        ),
    ],
)
def test_a_bad_domain_setting_is_a_settings_error_naming_the_key(
    no_environment: Path, text: str, message: str
) -> None:
    assert settings_file_error(no_environment, text) == (
        f"{no_environment / 'mailcmd.toml'}: {message}"
    )


def test_domains_from_the_environment_name_the_variable(
    no_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILCMD_DOMAINS", '["a.example", "A.EXAMPLE"]')

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value) == (
        "environment variable MAILCMD_DOMAINS: domains: Value error, a.example is listed twice"
    )


def test_mail_is_answered_from_the_domain_it_was_written_to_if_it_is_ours() -> None:
    domains = checked_domains(["app.example", "team.example"], None)

    assert addressed_domain("tasks+4.key@team.example", domains) == "team.example"
    assert addressed_domain("tasks@app.example", domains) == "app.example"
    assert addressed_domain("bob@elsewhere.example", domains) == "app.example"
    assert is_ours("carol@team.example", domains)
    assert not is_ours("carol@team.example.org", domains)


def test_the_demo_says_where_to_write_at_each_domain(no_environment: Path) -> None:
    settings = Settings(domains=["app.example", "team.example"])
    account = DemoAccount(login="demo@app.example", password="secret", created=False)

    lines = demo_lines(settings, {"submissions": 8465, "imaps": 8993}, account, None, ["tasks"])

    assert "  then write to the app at tasks@app.example, a command in the subject;" in lines
    assert "  then write to the app at tasks@team.example, a command in the subject;" in lines
    assert '  "help" there, or to help@team.example, lists the commands' in lines
