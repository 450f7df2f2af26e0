"""Whom mailcmd may answer, decided from the message and its recorded verdict, no server."""

from email.message import EmailMessage

import pytest

from mailcmd.db.models import InboundMessage
from mailcmd.identity.authenticity import SpfScope, Verdict, authentication_results
from mailcmd.message import parse_message
from mailcmd.outbound.auto_reply_rules import may_auto_reply
from mailcmd.runtime.reply_policy import backscatter_reason, counted_address


def received(**headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "bob@example.org"
    mail["To"] = "tasks@app.example"
    mail["Subject"] = "add Buy milk"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("hello\n")
    return mail.as_bytes()


def test_an_ordinary_message_may_be_answered() -> None:
    assert may_auto_reply(parse_message(received()), "bob@example.org")


@pytest.mark.parametrize("envelope_sender", ["", "<>"])
def test_the_null_sender_is_never_answered(envelope_sender: str) -> None:
    assert not may_auto_reply(parse_message(received()), envelope_sender)


@pytest.mark.parametrize("value", ["auto-replied", "auto-generated", "Auto-Notified"])
def test_auto_submitted_mail_is_never_answered(value: str) -> None:
    assert not may_auto_reply(parse_message(received(Auto_Submitted=value)), "bob@example.org")


def test_auto_submitted_no_is_a_person_and_is_answered() -> None:
    assert may_auto_reply(parse_message(received(Auto_Submitted="no")), "bob@example.org")


@pytest.mark.parametrize("value", ["bulk", "junk", "list", "BULK"])
def test_bulk_junk_and_list_precedence_are_never_answered(value: str) -> None:
    assert not may_auto_reply(parse_message(received(Precedence=value)), "bob@example.org")


def test_first_class_precedence_is_answered() -> None:
    assert may_auto_reply(parse_message(received(Precedence="first-class")), "bob@example.org")


def test_mailing_list_mail_is_never_answered() -> None:
    view = parse_message(received(List_Id="Friends <friends.lists.example.org>"))

    assert not may_auto_reply(view, "bob@example.org")


def verdict(
    *,
    dkim_domain: str | None = None,
    spf_domain: str | None = None,
    spf_scope: SpfScope = "mailfrom",
) -> str:
    """The Authentication-Results the receiver records for checks that passed for these."""
    recorded = Verdict(
        dkim="pass" if dkim_domain else "none",
        dkim_domain=dkim_domain,
        spf="pass" if spf_domain else "none",
        spf_domain=spf_domain,
        spf_scope=spf_scope,
        dmarc="none",
        dmarc_policy=None,
        from_domain="example.org",
        from_address="bob@example.org",
        aligned=False,
        verified_from=None,
    )
    return authentication_results(recorded, "app.example")


def from_mx(results: str, verified_from: str | None = None) -> InboundMessage:
    return InboundMessage(authentication_results=results, verified_from=verified_from)


def test_a_logged_in_submission_is_always_answered() -> None:
    # Only mail on the MX port has a recorded verdict.
    submitted = InboundMessage(authentication_results=None, verified_from=None)

    assert backscatter_reason(submitted, "anyone@anywhere.example") is None


def test_mx_mail_whose_reply_domain_nothing_vouched_for_is_not_answered() -> None:
    reason = backscatter_reason(from_mx(verdict()), "Victim@Elsewhere.example")

    assert reason == (
        "neither SPF nor a DKIM signature vouched for elsewhere.example, "
        "so victim@elsewhere.example may not be its sender"
    )


def test_spf_passing_for_the_reply_domain_vouches_for_it() -> None:
    assert backscatter_reason(from_mx(verdict(spf_domain="example.org")), "bob@example.org") is None


def test_spf_passing_for_another_domain_does_not_vouch() -> None:
    row = from_mx(verdict(spf_domain="example.org"))

    assert backscatter_reason(row, "bob@elsewhere.example") is not None


def test_spf_passing_only_for_the_helo_name_vouches_for_no_address() -> None:
    row = from_mx(verdict(spf_domain="example.org", spf_scope="helo"))

    assert backscatter_reason(row, "bob@example.org") is not None


def test_a_dkim_signature_of_the_reply_domains_organisation_vouches_for_it() -> None:
    row = from_mx(verdict(dkim_domain="mail.example.org"))

    assert backscatter_reason(row, "bob@lists.example.org") is None


def test_a_dkim_signature_of_another_organisation_does_not_vouch() -> None:
    row = from_mx(verdict(dkim_domain="example.net"))

    assert backscatter_reason(row, "bob@example.org") is not None


def test_a_dmarc_verified_from_that_is_the_reply_address_is_answered() -> None:
    row = from_mx(verdict(), verified_from="bob@example.org")

    assert backscatter_reason(row, "Bob@EXAMPLE.org") is None
    assert backscatter_reason(row, "carol@example.org") is not None


def test_budgets_count_a_person_not_a_spelling() -> None:
    assert counted_address(" Bob@Example.ORG ") == "bob@example.org"
    assert counted_address("bob@bücher.example") == "bob@xn--bcher-kva.example"


def test_an_unreadable_address_is_still_counted_lower_case_and_bounded() -> None:
    assert counted_address("Not An Address") == "not an address"
    assert len(counted_address("X" * 1000)) == 254
