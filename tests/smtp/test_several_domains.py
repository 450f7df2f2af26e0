"""Several domains: each one's mailboxes answer, from the domain written to, signed with its key."""

import email.policy
import logging
import re
import smtplib
import ssl
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from xml.etree import ElementTree

import pytest

from mailcmd.app.resources import bundled_path
from mailcmd.outbound.dkim import domain_key_path, generate_key, verify
from mailcmd.outbound.signing import load_signers
from mailcmd.settings import Settings
from mailcmd.smtp.replies import SmtpReplies
from mailcmd.testing import MailTestClient, scratch_database_url
from tests.conftest import ALICE, PASSWORD, Cli
from tests.servers import TIMEOUT, Sink, relay_sink, wait_until

FIRST = "app.localhost"
SECOND = "team.localhost"
# An internationalised domain, as written and as mailcmd keeps it (IDNA).
THIRD = "bücher.localhost"
THIRD_ASCII = "xn--bcher-kva.localhost"
STRANGER = "someone@example.org"


@pytest.fixture(scope="module")
def relay() -> Iterator[tuple[Sink, int]]:
    with relay_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("domains")


@pytest.fixture(scope="module")
def database(state: Path) -> Iterator[str]:
    with scratch_database_url(state) as url:
        yield url


@pytest.fixture(scope="module")
def operator(state: Path, database: str) -> Cli:
    """The command line of an installation with two domains (the environment's variable)."""
    return Cli(
        env={
            "MAILCMD_STATE_DIR": str(state),
            "MAILCMD_DATABASE_URL": database,
            "MAILCMD_DOMAINS": f'["{FIRST}", "{SECOND}", "{THIRD}"]',
        }
    )


@pytest.fixture(scope="module")
def printed_record(operator: Cli) -> tuple[str, str]:
    """The DNS record `mailcmd dkim keygen --domain` printed for the second domain, as the
    operator publishes it: its name and value. The first domain has no key."""
    result = operator("dkim", "keygen", "--domain", SECOND, "--bits", "1024")
    assert result.exit_code == 0, result.stderr
    name = re.search(r"^name:  (\S+)$", result.stdout, re.MULTILINE)
    value = re.search(r"^value: (.+)$", result.stdout, re.MULTILINE)
    assert name is not None
    assert value is not None
    return name.group(1), value.group(1)


@pytest.fixture(scope="module")
def mail(
    state: Path, database: str, relay: tuple[Sink, int], printed_record: tuple[str, str]
) -> Iterator[MailTestClient]:
    """The bundled app answering at three domains, alice's account at the first, and a relay."""
    _sink, port = relay
    with MailTestClient(
        bundled_path("commands"),
        state,
        database_url=database,
        settings={
            "domains": [FIRST, SECOND, THIRD],
            "relay": {"host": "127.0.0.1", "port": port, "starttls": "off"},
            "worker": {"poll_seconds": 0.05},
            "autoconfig": {"port": 0},
        },
    ) as client:
        client.add_account(ALICE, password=PASSWORD)
        yield client


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


def message_id_domain(reply: EmailMessage) -> str:
    return str(reply["Message-ID"]).strip("<>").rpartition("@")[2]


def answer(mail: MailTestClient, reply: EmailMessage, text: str) -> EmailMessage:
    """What a mail client sends on Reply: `text`, to the reply's Reply-To, threaded."""
    return mail.compose(
        str(reply["Reply-To"]),
        f"Re: {reply['Subject']}",
        text,
        ALICE,
        {"In-Reply-To": str(reply["Message-ID"]), "References": str(reply["Message-ID"])},
    )


def relayed_to(sink: Sink, address: str) -> bytes:
    """The content of the mail the relay took for `address` (waits for it)."""

    def arrived() -> bytes | None:
        found = [content for _from, rcpts, content in sink.received if address in rcpts]
        return found[-1] if found else None

    return wait_until(arrived, f"a relayed mail to {address}")


def test_mail_to_the_second_domain_is_answered_from_it_and_its_reply_continues_the_task(
    mail: MailTestClient,
) -> None:
    added = mail.send(f"tasks@{SECOND}", "add Water the plants").reply

    done = mail.send(str(added["Reply-To"]), message=answer(mail, added, "done")).reply

    for reply in (added, done):
        assert parseaddr(str(reply["From"]))[1] == f"tasks@{SECOND}"
        assert message_id_domain(reply) == SECOND
        assert domain_of(str(reply["Reply-To"])) == SECOND
    assert str(added["Reply-To"]).startswith("tasks+")
    assert re.fullmatch(r"Task \d+ added: Water the plants", str(added["Subject"]))
    assert re.fullmatch(r"Task \d+ done: Water the plants", str(done["Subject"]))


def test_mail_to_the_first_domain_is_answered_from_it_as_before(mail: MailTestClient) -> None:
    reply = mail.send(f"tasks@{FIRST}", "add Buy milk").reply

    assert parseaddr(str(reply["From"]))[1] == f"tasks@{FIRST}"
    assert message_id_domain(reply) == FIRST
    assert domain_of(str(reply["Reply-To"])) == FIRST


def test_help_at_the_second_domain_names_the_second_domains_addresses(
    mail: MailTestClient,
) -> None:
    exchange = mail.send(f"help@{SECOND}", "help")

    assert parseaddr(str(exchange.reply["From"]))[1] == f"help@{SECOND}"
    assert f"tasks@{SECOND}" in exchange.reply_text
    assert f"tasks@{FIRST}" not in exchange.reply_text


def test_a_relayed_reply_from_the_second_domain_is_signed_with_its_printed_key(
    mail: MailTestClient, relay: tuple[Sink, int], printed_record: tuple[str, str]
) -> None:
    sink, _port = relay
    name, value = printed_record
    stranger = "signed@example.org"

    mail.send(f"tasks@{SECOND}", "help", login="", sender=stranger)
    content = relayed_to(sink, stranger)

    assert re.search(rb"\bd=team\.localhost;", content.partition(b"\r\n\r\n")[0])
    assert name == f"mailcmd._domainkey.{SECOND}"
    assert verify(content, lambda query: value.encode() if query == name.encode() else None)


def test_a_relayed_reply_from_a_domain_without_a_key_goes_unsigned(
    mail: MailTestClient, relay: tuple[Sink, int]
) -> None:
    sink, _port = relay
    stranger = "unsigned@example.org"

    mail.send(f"tasks@{FIRST}", "help", login="", sender=stranger)
    content = relayed_to(sink, stranger)

    assert b"DKIM-Signature:" not in content
    assert f"From: tasks@{FIRST}".encode() in content


def test_the_start_up_lines_name_each_domain_and_the_one_without_a_key(
    mail: MailTestClient,
) -> None:
    signers = mail._running_server().signers
    assert signers is not None

    assert signers.describe() == [
        f"DKIM: signing as mailcmd._domainkey.{SECOND}",
        *(
            f"DKIM: no key for {domain}; its mail is not signed"
            f" (mailcmd dkim keygen --domain {domain})"
            for domain in (FIRST, THIRD_ASCII)
        ),
    ]


def test_mail_for_a_domain_not_ours_is_still_refused(mail: MailTestClient) -> None:
    exchange = mail.send("tasks@elsewhere.example", "help", login="", sender=STRANGER)

    assert f"{exchange.code} {exchange.text}" == SmtpReplies.RELAY_DENIED.with_values(
        address="tasks@elsewhere.example"
    )


def test_mail_from_the_outside_claiming_the_second_domain_is_refused(
    mail: MailTestClient,
) -> None:
    exchange = mail.send(f"tasks@{FIRST}", "help", login="", sender=f"boss@{SECOND}")

    assert f"{exchange.code} {exchange.text}" == SmtpReplies.LOCAL_DOMAIN_FROM_OUTSIDE.with_values(
        domain=SECOND
    )


def test_an_account_owns_an_address_in_the_second_domain(mail: MailTestClient) -> None:
    carol = f"carol@{SECOND}"
    mail.add_account("carol", addresses=[carol])

    sent = mail.send(f"tasks@{SECOND}", "add Call the plumber", login="carol", sender=carol)
    delivered = mail.send(carol, "Hello Carol", "hi", login="", sender=STRANGER)

    assert sent.reply["To"] == carol
    assert parseaddr(str(sent.reply["From"]))[1] == f"tasks@{SECOND}"
    assert delivered.code == 250
    assert delivered.replies == []


def autoconfig_domain(mail: MailTestClient, query: str, host: str) -> str:
    port = mail.ports["autoconfig"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/mail/config-v1.1.xml{query}", headers={"Host": host}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        document = ElementTree.fromstring(response.read())  # noqa: S314 - mailcmd's own output
    provider = document.find("emailProvider")
    assert provider is not None
    assert provider.get("id") == provider.findtext("domain")
    return provider.findtext("domain") or ""


@pytest.mark.parametrize(
    ("query", "host", "expected"),
    [
        (f"?emailaddress=carol%40{SECOND}", "autoconfig.elsewhere.example", SECOND),
        (f"?emailaddress=alice%40{FIRST}", f"autoconfig.{SECOND}", FIRST),
        ("", f"autoconfig.{SECOND}", SECOND),
        ("", f"{SECOND}:80", SECOND),
        ("", "autoconfig.elsewhere.example", FIRST),
    ],
)
def test_autoconfig_names_the_domain_asked_for(
    mail: MailTestClient, query: str, host: str, expected: str
) -> None:
    assert autoconfig_domain(mail, query, host) == expected


def logged_in(mail: MailTestClient) -> smtplib.SMTP_SSL:
    """A client logged in as alice on the submissions port, as Thunderbird is."""
    server = mail._running_server()
    assert server.tls is not None
    context = ssl.create_default_context(cafile=str(server.tls.files.cert))
    client = smtplib.SMTP_SSL(
        "127.0.0.1", mail.ports["submissions"], timeout=TIMEOUT, context=context
    )
    client.login(ALICE, PASSWORD)
    return client


def test_a_non_ascii_local_part_is_refused_with_its_own_code(mail: MailTestClient) -> None:
    with logged_in(mail) as client:
        client.mail(ALICE, ["SMTPUTF8"])
        code, text = client.rcpt(f"jürgen@{SECOND}")

    assert f"{code} {text.decode()}" == str(SmtpReplies.NON_ASCII_LOCAL_PART)


def test_mail_to_an_internationalised_domain_is_answered_from_its_ascii_form(
    mail: MailTestClient,
) -> None:
    message = mail.compose(f"tasks@{THIRD}", "add Order books", "", ALICE, None)
    with logged_in(mail) as client:
        client.mail(ALICE, ["SMTPUTF8"])
        accepted = client.rcpt(f"tasks@{THIRD}")
        code, text = client.data(message.as_bytes(policy=email.policy.SMTPUTF8))
    queue_id = int(text.decode().rpartition(" ")[2])

    [reply] = wait_until(lambda: mail.replies_to(queue_id), "the reply")

    assert f"{accepted[0]} {accepted[1].decode()}" == str(SmtpReplies.RECIPIENT_OK)
    assert code == 250
    assert parseaddr(str(reply["From"]))[1] == f"tasks@{THIRD_ASCII}"
    assert message_id_domain(reply) == THIRD_ASCII
    assert domain_of(str(reply["Reply-To"])) == THIRD_ASCII


def test_users_commands_take_addresses_of_every_domain(mail: MailTestClient, operator: Cli) -> None:
    made = operator(
        "users", "add", "dave", "--address", f"dave@{SECOND}", "--password-stdin", input=PASSWORD
    )
    external = operator("users", "add-address", "dave", f"dave2@{SECOND}")
    as_login = operator("users", "add", f"jürgen@{SECOND}", "--password-stdin", input=PASSWORD)
    as_address = operator(
        "users",
        "add",
        "juergen",
        "--address",
        f"jürgen@{SECOND}",
        "--password-stdin",
        input=PASSWORD,
    )

    assert made.exit_code == 0, made.stderr
    assert f"dave@{SECOND}" in operator("users", "show", "dave").stdout
    assert external.exit_code == 1
    assert f"dave2@{SECOND} is in this server's domain {SECOND}" in external.stderr
    for refused in (as_login, as_address):
        assert refused.exit_code == 1
        [line] = refused.stderr.splitlines()
        assert "non-ASCII local part: mailcmd takes ASCII local parts only" in line


def test_dkim_show_prints_each_domains_record_and_refuses_a_domain_not_ours(
    operator: Cli, printed_record: tuple[str, str], state: Path
) -> None:
    shown = operator("dkim", "show", "--domain", SECOND)
    missing = operator("dkim", "show", "--domain", FIRST)
    foreign = operator("dkim", "keygen", "--domain", "elsewhere.example")

    assert f"value: {printed_record[1]}" in shown.stdout
    assert (state / "dkim" / SECOND / "mailcmd.key").is_file()
    assert missing.exit_code == 1
    assert missing.stderr == (
        f"mailcmd: no DKIM key for selector mailcmd in {state / 'dkim' / 'mailcmd.key'};"
        f" `mailcmd dkim keygen --domain {FIRST}` makes one\n"
    )
    assert foreign.exit_code == 1
    assert foreign.stderr == (
        f"mailcmd: elsewhere.example is not one of mailcmd's domains ({FIRST}, {SECOND},"
        f" {THIRD_ASCII});"
        " add it to the domains setting first\n"
    )


def test_the_autoconfig_command_prints_the_document_of_the_domain_asked_for(
    operator: Cli,
) -> None:
    second = operator("autoconfig", "--domain", SECOND)
    default = operator("autoconfig")
    foreign = operator("autoconfig", "--domain", "elsewhere.example")

    assert ElementTree.fromstring(second.stdout).findtext("emailProvider/domain") == SECOND  # noqa: S314
    assert ElementTree.fromstring(default.stdout).findtext("emailProvider/domain") == FIRST  # noqa: S314
    assert foreign.exit_code == 1
    assert "elsewhere.example is not one of mailcmd's domains" in foreign.stderr


def test_a_domain_without_a_key_is_warned_about_at_start_when_another_signs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(domains=[FIRST, SECOND], state_dir=tmp_path)
    generate_key(
        tmp_path,
        "mailcmd",
        "ed25519",
        domain=SECOND,
        path=domain_key_path(settings, "mailcmd", SECOND),
    )

    with caplog.at_level(logging.WARNING, logger="mailcmd.outbound.signing"):
        signers = load_signers(settings)

    assert list(signers.signers) == [SECOND]
    assert [record.getMessage() for record in caplog.records] == [
        f"no DKIM key for {FIRST}: its mail is sent unsigned (mailcmd dkim keygen --domain {FIRST})"
    ]
