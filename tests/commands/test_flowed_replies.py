"""A long comment in a task mail, as a person's IMAP client receives it: format=flowed."""

import imaplib
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailcmd.app.resources import bundled_path
from mailcmd.message.flowed import FLOWED_WIDTH, decode_flowed
from mailcmd.net.tls import development_certificate
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE, PASSWORD
from tests.imap_support import fetched_message
from tests.servers import TIMEOUT

TASKS = "tasks@app.localhost"
PARAGRAPH = (
    "The plumber can come on Tuesday or Thursday morning, but not before nine, "
    "and wants the old tap kept for its parts."
)
INDENTED = "  - ask about the boiler too"
COMMENT = f"{PARAGRAPH}\n\n{INDENTED}"


@pytest.fixture
def mail(database_url: str, tmp_path: Path) -> Iterator[MailTestClient]:
    """The bundled app with its IMAP server listening (implicit TLS), alice logged in."""
    with MailTestClient(
        bundled_path("commands"),
        tmp_path / "mail",
        database_url=database_url,
        settings={"imap": {"port": "off", "tls_port": 0}},
    ) as client:
        client.add_account(ALICE, password=PASSWORD)
        yield client


def newest_in_inbox(mail: MailTestClient) -> EmailMessage:
    """The newest message in alice's INBOX, fetched over IMAP as her client would."""
    files = development_certificate(mail.settings.state_dir, mail.settings.domain)
    context = ssl.create_default_context(cafile=str(files.cert))
    with imaplib.IMAP4_SSL(
        "127.0.0.1", mail.ports["imaps"], ssl_context=context, timeout=TIMEOUT
    ) as client:
        client.login(ALICE, PASSWORD)
        client.select("INBOX", readonly=True)
        message = fetched_message(client, "*")
        client.logout()
    return message


def test_a_long_comment_arrives_flowed_within_78_columns_with_its_paragraphs_and_indent(
    mail: MailTestClient,
) -> None:
    assert len(PARAGRAPH) > 100
    mail.send(TASKS, "add Call the plumber")
    mail.send(mail.reply_address("tasks", 1, login=ALICE), "Re: Task 1", COMMENT)

    reply = newest_in_inbox(mail)

    assert reply["Subject"] == "Task 1 commented: Call the plumber"
    body = reply.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_param("format") == "flowed"
    assert body.get_param("delsp") == "no"
    sent = str(body.get_content())
    assert all(len(line) <= FLOWED_WIDTH for line in sent.splitlines())
    shown = decode_flowed(sent).split("\n")
    start = shown.index("Comments:") + 2
    end = shown.index("", start)
    # The comment's paragraph, cut into lines that each keep the template's indent.
    assert all(line.startswith("    ") and line[4] != " " for line in shown[start:end])
    assert " ".join(line.strip() for line in shown[start:end]) == PARAGRAPH
    # Its blank line is a blank line, and its indented part keeps its indent.
    assert shown[end + 1] == f"    {INDENTED}"
    # The HTML twin shows the same comment, indented by CSS, its own lines kept.
    html = reply.get_body(preferencelist=("html",))
    assert html is not None
    shown_html = str(html.get_content()).replace("\r\n", "\n")
    assert f'<div style="white-space: pre-wrap; margin: 0 0 1em 2em">{COMMENT}</div>' in shown_html
