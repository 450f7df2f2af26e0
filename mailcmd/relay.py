"""Sending one message through the relay (smarthost) with the stdlib's SMTP client.

Blocking by nature: callers run it in a thread, never on the event loop.
"""

import smtplib
import ssl
from dataclasses import dataclass
from typing import Literal

from mailcmd.settings import RelaySettings

Verdict = Literal["sent", "temporary", "permanent"]


@dataclass(frozen=True)
class RelayResult:
    """What the relay said: sent, try again later, or never."""

    verdict: Verdict
    detail: str
    # Recipients the relay refused for good while taking the message for others.
    refused: tuple[str, ...] = ()


def send_via_relay(
    relay: RelaySettings, mail_from: str, rcpt_tos: list[str], raw: bytes
) -> RelayResult:
    """Hand `raw` to the relay for `rcpt_tos`; 4xx and network trouble are temporary."""
    if relay.host is None:
        return RelayResult("temporary", "no relay is configured")
    try:
        with smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout) as client:
            client.ehlo()
            if relay.starttls != "off" and client.has_extn("starttls"):
                client.starttls(context=_tls_context(relay.tls_verify))
                client.ehlo()
            elif relay.starttls == "required":
                return RelayResult("temporary", f"{relay.host} does not offer STARTTLS")
            if relay.username:
                client.login(relay.username, relay.secret() or "")
            refused = client.sendmail(mail_from, rcpt_tos, raw)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        verdict: Verdict = "temporary" if any(400 <= c < 500 for c in codes) else "permanent"
        return RelayResult(verdict, _describe_refusals(error.recipients))
    except smtplib.SMTPResponseException as error:
        text = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        verdict = "permanent" if 500 <= error.smtp_code < 600 else "temporary"
        return RelayResult(verdict, f"{error.smtp_code} {text}")
    except (OSError, smtplib.SMTPException) as error:
        return RelayResult("temporary", f"{type(error).__name__}: {error}")
    if refused:
        return RelayResult("sent", _describe_refusals(refused), tuple(refused))
    return RelayResult("sent", f"accepted by {relay.host}")


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        # The operator turned verification off (a relay with a private certificate).
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _describe_refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{rcpt}: {code} {text.decode(errors='replace')}" for rcpt, (code, text) in refused.items()
    )
