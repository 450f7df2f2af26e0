"""A task whose description and comment are long, in alice's INBOX: what mail clients show.

Issue 18 asks that long replies wrap well in Thunderbird and in mutt; both read the
same answer, made here as a person makes it: alice adds the task by mail, then
replies to the app's answer with a comment, and reads the app's answer to that.
"""

import imaplib
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import trustme

from tests.conftest import ALICE, PASSWORD
from tests.imap_support import fetched_message
from tests.servers import TIMEOUT, RunningServer, running_server, smtp_settings, wait_until

TASKS = "tasks@app.localhost"
TITLE = "Call the plumber"
ADDED = f"Task 1 added: {TITLE}"
# The answer that shows both the task's description and the comment.
COMMENTED = f"Task 1 commented: {TITLE}"
PARAGRAPH = (
    "The plumber can come on Tuesday or Thursday morning, but not before nine, and wants "
    "the old tap kept for its parts, so please leave it in the box under the kitchen sink."
)
INDENTED = "  - ask about the boiler too"
# What alice writes, as the task's description (the text of `add`) and as a comment.
TEXT = f"{PARAGRAPH}\n\n{INDENTED}"
# The answer's text shows each line of a comment with this indent (templates/tasks/task.txt).
COMMENT_INDENT = "    "


@contextmanager
def long_task_in_inbox(
    database_url: str, state_dir: Path, authority: trustme.CA
) -> Iterator[RunningServer]:
    """The bundled app and its worker, on a certificate from `authority`, with the task mail.

    Alice added the task with `TEXT` as its description and replied to the answer
    with `TEXT` as a comment; the app's answer `COMMENTED` is in her INBOX. Alice's
    account must exist in the database (the `accounts` fixture).
    """
    leaf = authority.issue_cert("127.0.0.1", "localhost")
    state_dir.mkdir(parents=True)
    cert, key = state_dir / "cert.pem", state_dir / "key.pem"
    cert.write_bytes(leaf.cert_chain_pems[0].bytes())
    key.write_bytes(leaf.private_key_pem.bytes())
    settings = smtp_settings(state_dir / "state", database_url, tls_cert=cert, tls_key=key)
    context = ssl.create_default_context()
    authority.configure_trust(context)
    with running_server(settings, work=True) as server:
        inbox = Inbox(server.port("imaps"), context)
        submissions = server.port("submissions")
        send(submissions, context, TASKS, f"add {TITLE}", TEXT)
        added = wait_until(lambda: inbox.titled(ADDED), f"{ADDED!r} in alice's INBOX")
        send(submissions, context, str(added["Reply-To"]), f"Re: {ADDED}", TEXT)
        wait_until(lambda: inbox.titled(COMMENTED), f"{COMMENTED!r} in alice's INBOX")
        yield server


def send(port: int, context: ssl.SSLContext, to: str, subject: str, text: str) -> None:
    """Send a plain text mail from alice, logged in on the implicit-TLS submission `port`."""
    message = EmailMessage()
    message["From"] = ALICE
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=TIMEOUT, context=context) as client:
        client.login(ALICE, PASSWORD)
        client.send_message(message)


class Inbox:
    """Alice's INBOX as an IMAP client on the implicit-TLS port reads it."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        """Read the INBOX on 127.0.0.1:`port`, connecting with `context`."""
        self.port = port
        self.context = context

    def titled(self, subject: str) -> EmailMessage | None:
        """The newest message whose subject is `subject`, if there is one."""
        with imaplib.IMAP4_SSL(
            "127.0.0.1", self.port, ssl_context=self.context, timeout=TIMEOUT
        ) as client:
            client.login(ALICE, PASSWORD)
            client.select("INBOX", readonly=True)
            _, found = client.search(None, "SUBJECT", f'"{subject}"')
            numbers = found[0].split()
            if not numbers:
                return None
            message = fetched_message(client, numbers[-1])
            client.logout()
        return message
