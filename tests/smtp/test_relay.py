"""Replies to other domains leave through the relay: retried on 4xx, failed on 5xx, no bounce."""

from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from mailcmd.app.resources import bundled_path
from mailcmd.db.models import MailMessage, OutboundMessage, QueueStatus
from mailcmd.outbound.delivery import NO_RELAY
from mailcmd.outbound.dkim import generate_key, verify
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE, PASSWORD, Cli
from tests.servers import TIMEOUT, Sink, wait_until

STRANGER = "someone@example.org"


def client(tmp_path: Path, database_url: str, relay: dict[str, Any]) -> MailTestClient:
    return MailTestClient(
        bundled_path("commands"),
        tmp_path / "relay",
        database_url=database_url,
        settings={"relay": relay, "worker": {"poll_seconds": 0.05}},
    )


def outbound_status(
    mail: MailTestClient, until: set[QueueStatus], last_error: str | None = None
) -> OutboundMessage:
    def reached() -> OutboundMessage | None:
        with mail.database.sessions() as session:
            row = session.scalars(select(OutboundMessage)).first()
            if row is None or row.status not in until:
                return None
            if last_error is not None and row.last_error != last_error:
                return None
            session.expunge(row)
            return row

    # Delivery runs in the server's own tasks; the test can only look.
    return wait_until(reached, f"the outbound message in {until}")


def test_a_reply_to_another_domain_goes_through_the_relay(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    with client(
        tmp_path, database_url, {"host": "127.0.0.1", "port": port, "starttls": "off"}
    ) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)

        assert handler.arrived.wait(TIMEOUT)
        row = outbound_status(mail, {QueueStatus.DONE})

    mail_from, rcpt_tos, content = handler.received[0]
    assert mail_from == "<>"
    assert rcpt_tos == [STRANGER]
    assert b"Auto-Submitted: auto-replied" in content
    assert row.attempts == 1


def test_a_reply_for_the_relay_wakes_the_deliverer_when_it_commits(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    relay = {"host": "127.0.0.1", "port": port, "starttls": "off"}
    # No poll comes within the test: only the commit that queued the reply can wake it.
    with MailTestClient(
        bundled_path("commands"),
        tmp_path / "relay",
        database_url=database_url,
        settings={"relay": relay, "worker": {"poll_seconds": 3600}},
    ) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)

        assert handler.arrived.wait(TIMEOUT)


def test_deliver_waits_for_the_relays_verdict(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    with client(
        tmp_path, database_url, {"host": "127.0.0.1", "port": port, "starttls": "off"}
    ) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)

        mail.deliver()

        with mail.database.sessions() as session:
            assert session.scalars(select(OutboundMessage.status)).one() == QueueStatus.DONE
    assert len(handler.received) == 1


def test_deliver_returns_while_mail_for_other_domains_waits_for_a_relay(
    tmp_path: Path, database_url: str
) -> None:
    with client(tmp_path, database_url, {}) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)

        mail.deliver()

        with mail.database.sessions() as session:
            assert session.scalars(select(OutboundMessage.last_error)).one() == NO_RELAY


def test_a_temporary_refusal_is_retried(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    handler.answers = ["451 4.7.1 greylisted, try again"]
    relay = {"host": "127.0.0.1", "port": port, "starttls": "off", "retry_seconds": 0.05}
    with client(tmp_path, database_url, relay) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)

        row = outbound_status(mail, {QueueStatus.DONE})

    assert row.attempts == 2
    assert len(handler.received) == 1


def test_a_permanent_refusal_fails_at_once_and_bounces_nothing(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    handler.answers = ["550 5.1.1 no such user"]
    with client(
        tmp_path, database_url, {"host": "127.0.0.1", "port": port, "starttls": "off"}
    ) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)

        row = outbound_status(mail, {QueueStatus.FAILED})
        with mail.database.sessions() as session:
            count = len(session.scalars(select(OutboundMessage)).all())

    assert "550 5.1.1 no such user" in (row.last_error or "")
    assert count == 1
    assert handler.received == []


def test_a_relay_without_starttls_is_not_used_when_it_is_required(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    _, port = sink
    relay = {"host": "127.0.0.1", "port": port, "starttls": "required", "retry_seconds": 60}
    with client(tmp_path, database_url, relay) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)

        row = outbound_status(mail, {QueueStatus.DEFERRED})

    assert row.last_error == "127.0.0.1 does not offer STARTTLS"


def test_without_a_relay_mail_for_other_domains_waits_with_a_clear_status(
    tmp_path: Path, database_url: str
) -> None:
    with client(tmp_path, database_url, {}) as mail:
        mail.add_account(ALICE, password=PASSWORD)
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)

        row = outbound_status(mail, {QueueStatus.QUEUED}, last_error=NO_RELAY)

    assert row.last_error == NO_RELAY


def test_a_queued_reply_whose_recipient_became_an_account_goes_to_its_inbox(
    tmp_path: Path, database_url: str
) -> None:
    newcomer = "newcomer@example.org"
    with client(tmp_path, database_url, {}) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=newcomer)
        waiting = outbound_status(mail, {QueueStatus.QUEUED}, last_error=NO_RELAY)
        mail.add_account("newcomer", addresses=[newcomer])
        with mail.database.writing() as session:
            session.execute(
                update(OutboundMessage).values(next_attempt_at=OutboundMessage.created_at)
            )
            session.commit()

        mail.deliver()

        row = outbound_status(mail, {QueueStatus.DONE})
        with mail.database.sessions() as session:
            stored = session.scalars(select(MailMessage.raw)).all()

    assert row.id == waiting.id
    assert row.rcpt_tos == []
    assert stored == [row.raw]


def test_outbox_retry_sends_a_failed_message_again_and_purge_removes_old_ones(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str, cli: Cli
) -> None:
    handler, port = sink
    handler.answers = ["550 5.1.1 no such user"]
    cli.env["MAILCMD_DATABASE_URL"] = database_url
    with client(
        tmp_path, database_url, {"host": "127.0.0.1", "port": port, "starttls": "off"}
    ) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)
        failed = outbound_status(mail, {QueueStatus.FAILED})

        retried = cli("outbox", "retry", str(failed.id))
        assert handler.arrived.wait(TIMEOUT)
        delivered = outbound_status(mail, {QueueStatus.DONE})

    kept = cli("outbox", "purge", "--status", "done", "--older-than", "7d")
    purged = cli("outbox", "purge", "--status", "done", "--older-than", "0m")
    bad_age = cli("outbox", "purge", "--status", "done", "--older-than", "soon")

    assert retried.stdout == f"outbound message {failed.id} queued again\n"
    assert delivered.id == failed.id
    assert kept.stdout == "delivered outbox rows (kept 7d): 0 deleted\n"
    assert purged.stdout == "delivered outbox rows (kept 0m): 1 deleted\n"
    assert cli("outbox", "list").stdout == "(none)\n"
    assert bad_age.exit_code == 1
    assert "use a number and d, h or m" in bad_age.stderr


def test_mail_through_the_relay_is_dkim_signed_and_verifies(
    sink: tuple[Sink, int], tmp_path: Path, database_url: str
) -> None:
    handler, port = sink
    key = generate_key(tmp_path / "relay", "mailcmd", "rsa", domain="app.localhost")
    record = key.record_value.encode()
    with client(
        tmp_path, database_url, {"host": "127.0.0.1", "port": port, "starttls": "off"}
    ) as mail:
        mail.send("tasks@app.localhost", "help", login="", sender=STRANGER)
        assert handler.arrived.wait(TIMEOUT)

    content = handler.received[0][2]
    assert content.startswith(
        b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=app.localhost"
    )
    assert verify(content, lambda name: record if name == key.record_name.encode() else None)
