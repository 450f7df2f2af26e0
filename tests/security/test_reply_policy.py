"""Public addresses cannot be turned into mail for third parties, floods or forged confirmations."""

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailcmd.db.models import ExternalAddress, OutboundMessage
from mailcmd.identity.authenticity import StaticResolver
from mailcmd.identity.verified_senders import add_external_address, confirm_external_address
from mailcmd.testing import DOMAIN, MailTestClient
from tests.conftest import ALICE, LAB_COMMANDS, LAB_TEMPLATES, PASSWORD, Cli

LIMIT = 3
BOB = f"bob@{DOMAIN}"
SPF_LOOPBACK = {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]}


@pytest.fixture
def lab(database_url: str, tmp_path: Path) -> Iterator[MailTestClient]:
    """The lab app with small hourly limits; every domain's SPF lets loopback send."""
    with MailTestClient(
        LAB_COMMANDS,
        tmp_path / "lab",
        database_url=database_url,
        templates=LAB_TEMPLATES,
        settings={
            "worker": {
                "reply_rate_limit": LIMIT,
                "notification_rate_limit": LIMIT,
                "confirm_rate_limit": LIMIT,
            }
        },
    ) as client:
        client.add_account(ALICE, password=PASSWORD)
        client.add_account(BOB, password=PASSWORD)
        yield client


def outbound_count(client: MailTestClient) -> int:
    with client.database.sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboundMessage)) or 0


def test_no_reply_to_an_envelope_sender_whose_domain_did_not_vouch(
    database_url: str, tmp_path: Path
) -> None:
    records = {
        "victim.example": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]},
        "_dmarc.victim.example": {"TXT": ["v=DMARC1; p=reject"]},
    }
    with MailTestClient(
        LAB_COMMANDS,
        tmp_path / "lab",
        database_url=database_url,
        templates=LAB_TEMPLATES,
        resolver=StaticResolver(records),
    ) as lab:
        exchanges = [
            lab.send("public@app.localhost", "ping", login="", sender=sender)
            for sender in ("someone@victim.example", "nobody@unknown.example")
        ]
        # A local address is not even accepted on the MX port (tests/security/test_senders.py).
        local = lab.send("public@app.localhost", "ping", login="", sender=ALICE)

    assert (local.code, local.queue_id) == (550, None)
    for exchange in exchanges:
        assert exchange.code == 250
        assert exchange.replies == []
        assert exchange.outcome is not None
        assert "held back" in exchange.outcome.detail


def test_case_variants_of_one_address_share_one_budget(lab: MailTestClient) -> None:
    variants = ["x@example.org", "X@example.org", "x@EXAMPLE.org", "X@Example.Org", "x@example.ORG"]

    replies = [
        mail["Subject"]
        for sender in variants * 2
        for mail in lab.send("public@app.localhost", "ping", login="", sender=sender).replies
    ]

    assert replies[:LIMIT] == ["Echo: pong"] * LIMIT
    assert [subject.partition(" until")[0] for subject in replies[LIMIT:]] == ["Answers paused"]


def test_strangers_claiming_an_accounts_address_do_not_spend_its_budget(
    lab: MailTestClient,
) -> None:
    with lab.database.writing() as session:
        pending = add_external_address(session, ALICE, "alice@example.org", (DOMAIN,))
        session.commit()
    confirmed = lab.send(
        f"confirm+{pending.code}@{DOMAIN}", "Re: confirm", login="", sender="alice@example.org"
    )
    # Envelope alice@example.org (SPF passes for the domain), From someone else.
    stranger = [
        lab.send(
            "public@app.localhost",
            login="",
            sender="alice@example.org",
            message=lab.compose("public@app.localhost", "ping", "", "mallory@other.example", None),
        )
        for _ in range(LIMIT * 2)
    ]
    own = lab.send("lab@app.localhost", "echo --words mine", login="", sender="alice@example.org")

    assert confirmed.reply["Subject"] == "Confirmed: alice@example.org"
    # The confirmation was one of the address's answers this hour; then a notice.
    assert sum(len(exchange.replies) for exchange in stranger) == LIMIT - 1 + 1
    assert own.reply["Subject"] == "Echo: mine"


def test_a_stranger_past_the_limit_gets_one_notice_then_nothing(
    lab: MailTestClient, cli: Cli
) -> None:
    stranger = "someone@example.org"

    exchanges = [
        lab.send("public@app.localhost", "ping", login="", sender=stranger)
        for _ in range(LIMIT + 3)
    ]
    with lab.database.sessions() as session:
        first_reply_at = session.scalars(
            select(OutboundMessage.created_at).order_by(OutboundMessage.id)
        ).first()
    assert first_reply_at is not None
    until = (first_reply_at + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    notes = [
        json.loads(cli("queue", "show", str(exchange.queue_id), "--json").stdout)["note"]
        for exchange in exchanges
    ]

    assert [len(exchange.replies) for exchange in exchanges] == [1] * (LIMIT + 1) + [0, 0]
    notice = exchanges[LIMIT].reply
    sent = exchanges[LIMIT].outcome
    assert notice["Subject"] == f"Answers paused until {until} UTC"
    assert notice["To"] == stranger
    assert notice["Auto-Submitted"] == "auto-replied"
    assert notice["In-Reply-To"] is not None
    assert notice["Reply-To"] is None
    assert f"Answers resume at {until} UTC." in " ".join(exchanges[LIMIT].reply_text.split())
    assert sent is not None
    assert sent.status == "done"
    assert notes[:LIMIT] == [None] * LIMIT
    assert notes[LIMIT] == (
        f"mail to {stranger} held back: over the hourly reply limit ({LIMIT} an hour to an"
        " address of no account); a notice went instead"
    )
    for note in notes[LIMIT + 1 :]:
        assert note is not None
        assert note.endswith("its notice went earlier in the hour")


def test_an_answer_to_the_notice_is_not_answered(lab: MailTestClient) -> None:
    stranger = "someone@example.org"
    for _ in range(LIMIT + 1):
        notice = lab.send("public@app.localhost", "ping", login="", sender=stranger)
    # An autoresponder answering the notice marks its answer as automatic.
    answer = lab.send(
        "public@app.localhost",
        f"Re: {notice.reply['Subject']}",
        login="",
        sender=stranger,
        headers={"Auto-Submitted": "auto-replied", "In-Reply-To": notice.reply["Message-ID"]},
    )

    assert answer.replies == []
    assert answer.outcome is not None
    assert answer.outcome.detail == "ignored: automatic or list mail"


def test_a_logged_in_account_is_answered_past_the_reply_limit(lab: MailTestClient) -> None:
    exchanges = [
        lab.send("lab@app.localhost", f"echo --words n{n}", login=ALICE) for n in range(LIMIT * 3)
    ]

    assert [exchange.reply["Subject"] for exchange in exchanges] == [
        f"Echo: n{n}" for n in range(LIMIT * 3)
    ]


def test_a_verified_sender_is_answered_past_the_reply_limit(lab: MailTestClient) -> None:
    with lab.database.writing() as session:
        pending = add_external_address(session, ALICE, "alice@example.org", (DOMAIN,))
        confirm_external_address(session, "alice@example.org", pending.code)
        session.commit()

    exchanges = [
        lab.send("lab@app.localhost", f"echo --words n{n}", login="", sender="alice@example.org")
        for n in range(LIMIT * 3)
    ]

    assert [exchange.reply["Subject"] for exchange in exchanges] == [
        f"Echo: n{n}" for n in range(LIMIT * 3)
    ]


def test_one_mail_notifies_a_recipient_once_and_an_hour_at_most_limit_times(
    lab: MailTestClient,
) -> None:
    lines = "\n".join(f"tell {BOB} line{n}" for n in range(20))

    first = lab.send("lab@app.localhost", "", lines, login=ALICE)
    for _ in range(LIMIT + 2):
        lab.send("lab@app.localhost", "", lines, login=ALICE)
    with lab.database.sessions() as session:
        to_bob_in_the_hour = session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.notifies_address == BOB)
        )

    to_bob = [mail for mail in first.replies if mail["To"] == BOB]
    assert len(to_bob) == 1
    assert to_bob[0]["Subject"] == "20 notifications"
    assert to_bob_in_the_hour == LIMIT


def test_confirm_looks_only_where_a_code_can_be_and_within_a_bound(lab: MailTestClient) -> None:
    words = " ".join("abcdefghjk" for _ in range(250_000))

    started = time.monotonic()
    exchange = lab.send(
        f"confirm@{DOMAIN}", "confirm", words, login="", sender="stranger@example.org"
    )
    took = time.monotonic() - started

    assert exchange.code == 250
    assert took < 5.0


def test_confirm_takes_limit_mails_an_hour_from_a_stranger(lab: MailTestClient) -> None:
    answered = sum(
        len(
            lab.send(
                f"confirm+abcdefghjk@{DOMAIN}", "confirm", login="", sender="guess@example.org"
            ).replies
        )
        for _ in range(LIMIT + 3)
    )

    assert answered == LIMIT


def test_a_code_in_a_mail_whose_from_is_forged_confirms_nothing(
    database_url: str, tmp_path: Path
) -> None:
    # SPF passes for the forger's envelope domain; the From claims the declared address.
    with MailTestClient(
        LAB_COMMANDS,
        tmp_path / "lab",
        database_url=database_url,
        templates=LAB_TEMPLATES,
        resolver=StaticResolver({"forger.example": SPF_LOOPBACK}),
    ) as lab:
        lab.add_account(ALICE, password=PASSWORD)
        with lab.database.writing() as session:
            pending = add_external_address(session, ALICE, "alice@example.org", (DOMAIN,))
            session.commit()
        to = f"confirm+{pending.code}@{DOMAIN}"
        forged = lab.compose(to, f"Re: confirm {pending.code}", "", "alice@example.org", None)
        exchange = lab.send(to, login="", sender="x@forger.example", message=forged)
        with lab.database.sessions() as session:
            confirmed = session.scalar(
                select(func.count())
                .select_from(ExternalAddress)
                .where(ExternalAddress.confirmed_at.is_not(None))
            )

    assert confirmed == 0
    assert exchange.reply["To"] == "x@forger.example"
    assert "could not be verified" in " ".join(exchange.reply_text.split())
