"""Independent IMAP clients (Debian's fetchmail, curl) fetch a reply that mailcmd delivered."""

import imaplib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ALICE, PASSWORD, Cli
from tests.servers import TIMEOUT, RunningServer, running_server, smtp_settings, wait_until

FETCHMAIL = shutil.which("fetchmail")


@pytest.fixture
def working_server(accounts: Cli, database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A server with its worker and deliverer."""
    settings = smtp_settings(tmp_path / "state", database_url)
    with running_server(settings, work=True) as server:
        yield server


def send_command(server: RunningServer, subject: str) -> None:
    smtp = server.submission()
    smtp.login(ALICE, PASSWORD)
    smtp.sendmail(
        ALICE,
        ["tasks@app.localhost"],
        f"From: alice@app.localhost\r\nTo: tasks@app.localhost\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject))}@app.localhost>\r\n\r\n".encode(),
    )


def replies_in_inbox(server: RunningServer) -> int:
    client = imaplib.IMAP4_SSL(
        "127.0.0.1", server.port("imaps"), ssl_context=server.tls_client_context, timeout=TIMEOUT
    )
    try:
        client.login(ALICE, PASSWORD)
        typ, data = client.status("INBOX", "(MESSAGES)")
        assert typ == "OK"
        return int(data[0].rsplit(b" ", 1)[1].rstrip(b")"))
    finally:
        client.logout()


@pytest.mark.slow
@pytest.mark.skipif(
    FETCHMAIL is None, reason="fetchmail is not installed (apt-get install fetchmail)"
)
@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_fetchmail_fetches_the_reply_to_a_command(
    working_server: RunningServer, tmp_path: Path, tls: str
) -> None:
    assert FETCHMAIL is not None
    send_command(working_server, "add Buy milk")
    wait_until(lambda: replies_in_inbox(working_server), "the reply in alice's INBOX")
    home = tmp_path / "fetchmail"
    home.mkdir()
    delivered = tmp_path / "fetched.mbox"
    port = working_server.port("imaps" if tls == "implicit" else "imap")
    security = "ssl" if tls == "implicit" else "sslproto tls1.2+"
    rc = home / "fetchmailrc"
    rc.write_text(
        f"poll 127.0.0.1 proto IMAP port {port} auth password\n"
        f'  user "{ALICE}" there with password "{PASSWORD}" is "{os.getenv("USER", "root")}" here\n'
        f"  {security} sslcertck sslcommonname localhost"
        f' sslcertfile "{working_server.server.tls.files.cert}"\n'
        f'  folder INBOX keep fetchall mda "cat >> {delivered}"\n'
    )
    rc.chmod(0o600)

    result = subprocess.run(
        [FETCHMAIL, "--nodetach", "--nosyslog", "-f", str(rc), "--idfile", str(home / "ids"), "-v"],
        env={**os.environ, "FETCHMAILHOME": str(home), "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    fetched = delivered.read_text()
    assert "Buy milk" in fetched
    assert "Auto-Submitted: auto-replied" in fetched


CURL = shutil.which("curl")


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")
@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_curl_lists_folders_and_fetches_the_reply(working_server: RunningServer, tls: str) -> None:
    assert CURL is not None
    send_command(working_server, "add Buy eggs")
    wait_until(lambda: replies_in_inbox(working_server), "the reply in alice's INBOX")
    if tls == "implicit":
        base = f"imaps://127.0.0.1:{working_server.port('imaps')}"
        security: list[str] = []
    else:
        base = f"imap://127.0.0.1:{working_server.port('imap')}"
        security = ["--ssl-reqd"]
    common = [
        CURL,
        "--silent",
        "--show-error",
        "--max-time",
        str(int(TIMEOUT)),
        "--cacert",
        str(working_server.server.tls.files.cert),
        "--user",
        f"{ALICE}:{PASSWORD}",
        *security,
    ]

    folders = subprocess.run(
        [*common, base + "/"], capture_output=True, text=True, timeout=TIMEOUT * 2, check=False
    )
    message = subprocess.run(
        [*common, base + "/INBOX;UID=1"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )

    assert folders.returncode == 0, folders.stderr
    assert '(\\HasNoChildren \\Sent) "/" "Sent"' in folders.stdout
    assert message.returncode == 0, message.stderr
    assert "Buy eggs" in message.stdout
