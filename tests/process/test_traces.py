"""One trace per message: a `mailcmd serve` process's log lines, replies and CLI agree on it."""

import email
import imaplib
import json
import re
import smtplib
import ssl
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from mailcmd.smtp.replies import SmtpReplies
from tests.conftest import ALICE, PASSWORD, Cli
from tests.dns_stub import dns_stub
from tests.servers import (
    TIMEOUT,
    ServeProcess,
    Sink,
    clean_environment,
    mailcmd_command,
    serve_process,
    wait_until,
)

STRANGER = "someone@example.org"
# Its SPF record vouches for mail from loopback: a reply to it may leave by the relay.
EXAMPLE_ORG = {"example.org": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]}}
TRACE_ID = re.compile(r"[0-9a-f]{16}")


def serve_env(
    tmp_path: Path, accounts: Cli, sink_port: int, dns: str, **more: str
) -> dict[str, str]:
    return clean_environment(
        MAILCMD_DATABASE_URL=accounts.env["MAILCMD_DATABASE_URL"],
        MAILCMD_STATE_DIR=str(tmp_path / "state"),
        MAILCMD_SMTP__MX_PORT="0",
        MAILCMD_IMAP__TLS_PORT="0",
        MAILCMD_RELAY__HOST="127.0.0.1",
        MAILCMD_RELAY__PORT=str(sink_port),
        MAILCMD_RELAY__STARTTLS="off",
        MAILCMD_DNS_RESOLVER=dns,
        **more,
    )


def tls_context(tmp_path: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tmp_path / "state" / "tls" / "dev-cert.pem"))


def submit(served: ServeProcess, tmp_path: Path, subject: str, author: str = ALICE) -> None:
    with smtplib.SMTP("127.0.0.1", served.port("submission"), timeout=TIMEOUT) as client:
        client.starttls(context=tls_context(tmp_path))
        client.login(ALICE, PASSWORD)
        message = f"From: {author}\r\nSubject: {subject}\r\n\r\nThanks!\r\n"
        client.sendmail(ALICE, ["tasks@app.localhost"], message.encode())


def reply_in_inbox(served: ServeProcess, tmp_path: Path) -> Message:
    context = tls_context(tmp_path)
    with imaplib.IMAP4_SSL(
        "127.0.0.1", served.port("imaps"), ssl_context=context, timeout=TIMEOUT
    ) as imap:
        imap.login(ALICE, PASSWORD)

        def fetched() -> bytes | None:
            imap.select("INBOX")
            _, found = imap.search(None, "ALL")
            if not found[0]:
                return None
            _, data = imap.fetch(found[0].split()[0], "(RFC822)")
            part = data[0]
            assert isinstance(part, tuple)
            return part[1]

        return email.message_from_bytes(wait_until(fetched, "the reply in alice's INBOX"))


def entries_in(logged: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logged.splitlines()]


def loggers_in_trace(entries: list[dict[str, Any]], trace_id: str) -> list[str]:
    return [entry["logger"] for entry in entries if entry.get("trace_id") == trace_id]


def test_a_command_mail_has_one_trace_in_the_json_log_the_reply_and_the_cli(
    tmp_path: Path, accounts: Cli, sink: tuple[Sink, int]
) -> None:
    handler, sink_port = sink
    with dns_stub(EXAMPLE_ORG) as stub:
        env = serve_env(tmp_path, accounts, sink_port, stub.address, MAILCMD_LOG_FORMAT="json")
        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as served:
            submit(served, tmp_path, "add Buy milk")
            reply = reply_in_inbox(served, tmp_path)
            with pytest.raises(smtplib.SMTPDataError) as refused:
                submit(served, tmp_path, "add Forged", author="bob@app.localhost")
            with smtplib.SMTP("127.0.0.1", served.port("mx"), timeout=TIMEOUT) as client:
                message = f"From: {STRANGER}\r\nSubject: help\r\n\r\n"
                client.sendmail(STRANGER, ["tasks@app.localhost"], message.encode())
            assert handler.arrived.wait(TIMEOUT)
            assert served.stop() == 0
            entries = entries_in(served.logged())

    local_trace = reply["X-Mailcmd-Trace"]
    relayed_trace = email.message_from_bytes(handler.received[0][2])["X-Mailcmd-Trace"]
    assert TRACE_ID.fullmatch(local_trace)
    assert TRACE_ID.fullmatch(relayed_trace)
    assert local_trace != relayed_trace
    in_trace = loggers_in_trace(entries, local_trace)
    # The task shown in alice's Tasks folder: by the folder syncer, in the command's
    # trace, once the worker's transaction has committed (before or after its line
    # saying so), unless the IMAP login that reads the reply showed it first (a login
    # syncs the account outside any trace, and the syncer then has nothing to say).
    assert in_trace.count("mailcmd.runtime.folder_views") <= 1
    assert [logger for logger in in_trace if logger != "mailcmd.runtime.folder_views"] == [
        "mailcmd.smtp.transactions",
        "mailcmd.runtime.worker",  # claimed
        "mailcmd.imap.mailstore",  # the reply in alice's INBOX, announced to IMAP
        "mailcmd.runtime.worker",  # done
    ]
    assert loggers_in_trace(entries, relayed_trace) == [
        "mailcmd.smtp.transactions",
        "mailcmd.runtime.worker",
        "mailcmd.outbound.queueing",  # queued for the relay
        "mailcmd.runtime.worker",
        "mailcmd.outbound.delivery",  # the relay's verdict
    ]
    [relayed] = [
        entry
        for entry in entries
        if entry.get("trace_id") == relayed_trace and entry["logger"] == "mailcmd.outbound.delivery"
    ]
    assert re.fullmatch(
        r"outbound \d+ by relay, attempt 1: done, reply code 250 \(.*\)", relayed["message"]
    )
    # Refused after DATA: nothing is stored, and its one line has a trace of its own.
    forged = SmtpReplies.FROM_NOT_OWNED.with_values(login=ALICE)
    assert forged.startswith(str(refused.value.smtp_code))
    [refusal] = [entry for entry in entries if entry.get("smtp", {}).get("result") == forged]
    assert TRACE_ID.fullmatch(refusal["trace_id"])
    assert loggers_in_trace(entries, refusal["trace_id"]) == ["mailcmd.smtp.transactions"]


def test_queue_show_and_outbox_show_name_each_other(
    tmp_path: Path, accounts: Cli, sink: tuple[Sink, int]
) -> None:
    _, sink_port = sink
    with dns_stub({}) as stub:
        env = serve_env(tmp_path, accounts, sink_port, stub.address)
        with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=env) as served:
            submit(served, tmp_path, "add Buy milk")
            trace_id = reply_in_inbox(served, tmp_path)["X-Mailcmd-Trace"]
            assert served.stop() == 0
            logged = served.logged()

    by_trace = json.loads(accounts("queue", "show", trace_id, "--json").stdout)
    [reply] = by_trace["replies"]
    by_id = json.loads(accounts("queue", "show", str(by_trace["id"]), "--json").stdout)
    outbound = json.loads(accounts("outbox", "show", str(reply["id"]), "--json").stdout)
    table = accounts("queue", "show", trace_id).stdout
    stored = email.message_from_bytes(accounts("queue", "show", trace_id, "--raw").stdout_bytes)

    assert f" trace={trace_id} " in logged
    assert by_id == by_trace
    assert by_trace["trace_id"] == trace_id
    # The id clause of the Received field the receiver wrote (RFC 5321).
    assert re.search(rf"\sid {trace_id}\s", str(stored["Received"]))
    assert reply == {
        "id": outbound["id"],
        "rcpt_tos": [ALICE],
        "delivery": "local",
        "status": "done",
        "attempts": 0,
        "last_error": None,
    }
    assert outbound["in_reply_to_queue_id"] == by_trace["id"]
    assert outbound["trace_id"] == trace_id
    assert outbound["delivery"] == "local"
    assert re.search(rf"\ntrace_id +{trace_id}\n", table)
    assert re.search(rf"\n{outbound['id']} +{ALICE} +local +done +0 +-\n", table)


def test_queue_show_of_an_unknown_trace_says_where_else_to_look(accounts: Cli) -> None:
    result = accounts("queue", "show", "0123456789abcdef")

    assert result.exit_code == 1
    assert result.stderr == (
        "mailcmd: no inbound message with trace id '0123456789abcdef'"
        " (mail a scheduled job made has none: its log lines name its outbound id)\n"
    )
