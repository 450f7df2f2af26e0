"""The connection to the relay stays open between messages, and is closed politely."""

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from mailcmd.app.resources import bundled_path
from mailcmd.db.models import OutboundMessage, QueueStatus
from mailcmd.testing import MailTestClient
from tests.servers import Sink, wait_until

STRANGER = "someone@example.org"


def client(
    tmp_path: Path,
    database_url: str,
    port: int,
    keep_open_seconds: float = 3600,
    retry_seconds: float = 60,
) -> MailTestClient:
    relay = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": "off",
        "keep_open_seconds": keep_open_seconds,
        "retry_seconds": retry_seconds,
    }
    return MailTestClient(
        bundled_path("commands"),
        tmp_path / "relay",
        database_url=database_url,
        settings={"relay": relay, "worker": {"poll_seconds": 0.05}},
    )


def send_and_wait(mail: MailTestClient, handler: Sink, count: int) -> None:
    mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)
    wait_until(lambda: len(handler.received) == count, f"{count} mails at the relay")


def statuses(mail: MailTestClient) -> list[tuple[QueueStatus, int]]:
    with mail.database.sessions() as session:
        rows = session.execute(
            select(OutboundMessage.status, OutboundMessage.attempts).order_by(OutboundMessage.id)
        )
        return [(status, attempts) for status, attempts in rows]


def test_replies_one_after_another_share_one_connection_to_the_relay(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    with client(tmp_path, database_url, port) as mail:
        for count in (1, 2, 3):
            send_and_wait(mail, handler, count)

    assert len(handler.sessions) == 1
    assert [rcpt_tos for _, rcpt_tos, _ in handler.received] == [[STRANGER]] * 3


def test_a_connection_the_relay_closed_is_replaced_without_a_failed_attempt(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    with client(tmp_path, database_url, port) as mail:
        send_and_wait(mail, handler, 1)
        handler.hang_up()

        send_and_wait(mail, handler, 2)
        done = wait_until(
            lambda: (found := statuses(mail)) == [(QueueStatus.DONE, 1)] * 2 and found,
            "both replies done",
        )

    assert done == [(QueueStatus.DONE, 1)] * 2
    assert len(handler.sessions) == 2


def test_an_idle_connection_is_closed_with_quit_after_keep_open_seconds(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    with client(tmp_path, database_url, port, keep_open_seconds=0.2) as mail:
        send_and_wait(mail, handler, 1)

        wait_until(lambda: handler.quits == 1, "QUIT at the relay")
        send_and_wait(mail, handler, 2)

    assert len(handler.sessions) == 2


def test_without_keep_open_seconds_each_message_has_a_connection_of_its_own(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    with client(tmp_path, database_url, port, keep_open_seconds=0) as mail:
        send_and_wait(mail, handler, 1)
        send_and_wait(mail, handler, 2)
        wait_until(lambda: handler.quits == 2, "a QUIT after each message")

    assert len(handler.sessions) == 2


def test_stopping_closes_the_open_connection_with_quit(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    with client(tmp_path, database_url, port) as mail:
        send_and_wait(mail, handler, 1)
        assert handler.quits == 0

    assert handler.quits == 1


def test_each_relay_attempt_logs_its_outbound_id_result_and_reply_code(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    handler, port = sink
    handler.answers = ["451 4.7.1 greylisted, try again"]
    caplog.set_level(logging.INFO, logger="mailcmd.outbound.delivery")
    with client(tmp_path, database_url, port, retry_seconds=0.05) as mail:
        send_and_wait(mail, handler, 1)
        wait_until(lambda: statuses(mail) == [(QueueStatus.DONE, 2)], "the reply done")

    attempts = [
        record.getMessage() for record in caplog.records if "by relay" in record.getMessage()
    ]
    assert attempts[0].startswith("outbound 1 by relay, attempt 1: deferred, reply code 451 (")
    assert attempts[1].startswith("outbound 1 by relay, attempt 2: done, reply code 250 (")
    assert len(attempts) == 2
