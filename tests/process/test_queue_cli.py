"""`mailcmd queue list|show`: what the receiver stored, as the operator inspects it."""

import json

from tests.conftest import ALICE, PASSWORD, Cli, StartServer

MESSAGE = (
    b"From: alice@app.localhost\r\nSubject: add Buy milk\r\nMessage-ID: <m1@client.test>\r\n"
    b"\r\nThanks!\r\n"
)


def send_one(start_server: StartServer) -> int:
    server = start_server()
    client = server.submission()
    client.login(ALICE, PASSWORD)
    client.mail(ALICE)
    client.rcpt(ALICE)
    code, text = client.data(MESSAGE)
    assert code == 250
    return int(text.decode().rsplit(" ", 1)[1])


def test_queue_list_shows_the_accepted_message(start_server: StartServer, accounts: Cli) -> None:
    queue_id = send_one(start_server)

    listed = json.loads(accounts("queue", "list", "--json").stdout)
    table = accounts("queue", "list").stdout.splitlines()

    assert [item["id"] for item in listed] == [queue_id]
    assert listed[0]["status"] == "queued"
    assert listed[0]["account"] == ALICE
    assert listed[0]["rcpt_tos"] == [ALICE]
    assert table[0].split()[:3] == ["ID", "RECEIVED", "STATUS"]
    assert table[1].split()[0] == str(queue_id)


def test_queue_list_filters_by_status(start_server: StartServer, accounts: Cli) -> None:
    send_one(start_server)

    done = accounts("queue", "list", "--status", "done")
    bad = accounts("queue", "list", "--status", "lost")

    assert done.stdout == "(none)\n"
    assert bad.exit_code == 2
    assert "'lost' is not one of" in bad.stderr


def test_queue_show_gives_envelope_client_tls_and_headers(
    start_server: StartServer, accounts: Cli
) -> None:
    queue_id = send_one(start_server)

    shown = json.loads(accounts("queue", "show", str(queue_id), "--json").stdout)
    raw = accounts("queue", "show", str(queue_id), "--raw").stdout_bytes

    assert shown["subject"] == "add Buy milk"
    assert shown["message_id"] == "<m1@client.test>"
    assert shown["client_address"] == "127.0.0.1"
    assert shown["helo"] == "client.test"
    assert shown["tls"].startswith("TLSv1.")
    assert raw.startswith(b"Received: from client.test")
    assert raw.endswith(MESSAGE)


def test_queue_show_of_an_unknown_id_is_one_line(accounts: Cli) -> None:
    result = accounts("queue", "show", "999")

    assert result.exit_code == 1
    assert result.stderr == "mailcmd: no inbound message with id 999\n"


def test_queue_retry_queues_a_message_again(start_server: StartServer, accounts: Cli) -> None:
    queue_id = send_one(start_server)

    retried = accounts("queue", "retry", str(queue_id))
    shown = json.loads(accounts("queue", "show", str(queue_id), "--json").stdout)

    assert retried.stdout == f"message {queue_id} queued again\n"
    assert shown["status"] == "queued"
    assert shown["attempts"] == 0


def test_queue_retry_of_an_unknown_id_is_one_line(accounts: Cli) -> None:
    result = accounts("queue", "retry", "999")

    assert result.exit_code == 1
    assert result.stderr == "mailcmd: no inbound message with id 999\n"


def test_outbox_of_a_fresh_server_is_empty(accounts: Cli) -> None:
    listed = accounts("outbox", "list")
    shown = accounts("outbox", "show", "1")

    assert listed.stdout == "(none)\n"
    assert shown.exit_code == 1
    assert shown.stderr == "mailcmd: no outbound message with id 1\n"
