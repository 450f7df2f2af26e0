"""Sending mail through the relay (smarthost) with the stdlib's SMTP client.

Connections are kept open between messages (`RelayConnections`): opening one costs
a TCP handshake, EHLO, often STARTTLS and AUTH, several times what a message costs
on an open one. Blocking by nature: callers run it in threads, never on the event
loop.
"""

import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mailcmd.settings import RelaySettings

log = logging.getLogger(__name__)

Verdict = Literal["sent", "temporary", "permanent"]
# How long closing a connection (QUIT) may wait for the relay's answer.
QUIT_SECONDS = 5.0


@dataclass(frozen=True)
class RelayResult:
    """What the relay said: sent, try again later, or never."""

    verdict: Verdict
    detail: str
    # Recipients the relay refused for good while taking the message for others.
    refused: tuple[str, ...] = ()
    # The relay's reply code to the step that decided it; none for network trouble.
    code: int | None = None


# Outside the MailcmdError family: a signal inside this module to connect again.
class _Broken(Exception):
    """An open connection turned out closed (the relay timed it out, or restarted)."""

    def __init__(self, result: RelayResult) -> None:
        super().__init__(result.detail)
        self.result = result


@dataclass
class _Open:
    """A connection that waits for the next message, and since when."""

    client: smtplib.SMTP
    idle_since: float


class RelayConnections:
    """Connections to the relay, kept open between messages, shared by the sending threads.

    At most one idle connection per send slot (`relay.concurrency`) is kept, each for
    `relay.keep_open_seconds`. A message goes out on an idle connection when there
    is one: a connection found closed (the relay's own idle time-out, a restart) is
    replaced by a fresh one for the same message, once, and that is not a failed
    attempt. smtplib's `sendmail` resets the session (RSET) after a refused
    transaction and a completed one leaves it at its start (RFC 5321 4.1.1.4), so
    each message begins on a clean session.
    """

    def __init__(self, relay: RelaySettings, clock: Callable[[], float] = time.monotonic) -> None:
        """Send through `relay`; `clock` tells the idle time."""
        self._relay = relay
        self._clock = clock
        self._lock = threading.Lock()
        # Most recently used last: a burst reuses the warmest, the oldest time out.
        self._idle: list[_Open] = []
        self._closed = False

    def send(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> RelayResult:
        """Hand `raw` to the relay for `rcpt_tos`; 4xx and network trouble are temporary."""
        if self._relay.host is None:
            return RelayResult("temporary", "no relay is configured")
        reused = self._take()
        if reused is not None:
            try:
                return self._send_on(reused, mail_from, rcpt_tos, raw)
            except _Broken as error:
                # Not an attempt of the message's: the connection had gone idle too long.
                log.debug("relay connection found closed (%s): sending on a new one", error)
        try:
            client = self._connect()
        except _Refused as refused:
            return refused.result
        except (OSError, smtplib.SMTPException) as error:
            return RelayResult("temporary", _network_trouble(error))
        try:
            return self._send_on(client, mail_from, rcpt_tos, raw)
        except _Broken as broken:
            return broken.result

    def close_idle(self) -> float | None:
        """Close the connections idle for `relay.keep_open_seconds`.

        Returns the seconds until the next one is due to close, or None when none
        is left open.
        """
        now = self._clock()
        keep = self._relay.keep_open_seconds
        with self._lock:
            due = [entry for entry in self._idle if now - entry.idle_since >= keep]
            self._idle = [entry for entry in self._idle if now - entry.idle_since < keep]
            left = min((entry.idle_since for entry in self._idle), default=None)
        for entry in due:
            _quit(entry.client)
        return None if left is None else max(left + keep - now, 0.0)

    def close(self) -> None:
        """Close every idle connection; those in use close when their message is done."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for entry in idle:
            _quit(entry.client)

    def _take(self) -> smtplib.SMTP | None:
        with self._lock:
            return self._idle.pop().client if self._idle else None

    def _give_back(self, client: smtplib.SMTP) -> None:
        with self._lock:
            keep = (
                not self._closed
                and self._relay.keep_open_seconds > 0
                and len(self._idle) < self._relay.concurrency
            )
            if keep:
                self._idle.append(_Open(client, self._clock()))
        if not keep:
            _quit(client)

    def _connect(self) -> smtplib.SMTP:
        relay = self._relay
        assert relay.host is not None
        client = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
        try:
            client.ehlo()
            if relay.starttls != "off" and client.has_extn("starttls"):
                client.starttls(context=_tls_context(relay.tls_verify))
                client.ehlo()
            elif relay.starttls == "required":
                raise _Refused(RelayResult("temporary", f"{relay.host} does not offer STARTTLS"))
            if relay.username:
                client.login(relay.username, relay.secret() or "")
        except smtplib.SMTPResponseException as error:
            client.close()
            raise _Refused(_refusal(error)) from error
        except BaseException:
            client.close()
            raise
        return client

    def _send_on(
        self, client: smtplib.SMTP, mail_from: str, rcpt_tos: list[str], raw: bytes
    ) -> RelayResult:
        # Sends one message on `client` and gives the connection back when it can
        # carry the next one. Raises `_Broken` when the connection was closed.
        try:
            refused = client.sendmail(mail_from, rcpt_tos, raw)
        except smtplib.SMTPServerDisconnected as error:
            client.close()
            raise _Broken(RelayResult("temporary", _network_trouble(error))) from error
        except smtplib.SMTPRecipientsRefused as error:
            result = _recipients_refused(error.recipients)
            if result.code == 421:
                # The relay is closing this connection: smtplib has closed it too.
                raise _Broken(result) from error
        except smtplib.SMTPResponseException as error:
            result = _refusal(error)
            if error.smtp_code == 421:
                raise _Broken(result) from error
        except (OSError, smtplib.SMTPException) as error:
            # A timeout or a reset in the middle of a transaction: its state is unknown.
            client.close()
            result = RelayResult("temporary", _network_trouble(error))
            if isinstance(error, ConnectionError):
                raise _Broken(result) from error
            return result
        else:
            result = (
                RelayResult("sent", _describe_refusals(refused), tuple(refused), code=250)
                if refused
                else RelayResult("sent", f"accepted by {self._relay.host}", code=250)
            )
        if client.sock is not None:
            self._give_back(client)
        return result


# Outside the MailcmdError family: a signal inside this module, turned into its `result`.
class _Refused(Exception):
    """The relay would not take mail on a new connection; `result` says why."""

    def __init__(self, result: RelayResult) -> None:
        super().__init__(result.detail)
        self.result = result


def _quit(client: smtplib.SMTP) -> None:
    """Say goodbye to the relay, briefly; a connection already gone is simply closed."""
    try:
        if client.sock is not None:
            client.sock.settimeout(QUIT_SECONDS)
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _refusal(error: smtplib.SMTPResponseException) -> RelayResult:
    text = (
        error.smtp_error.decode(errors="replace")
        if isinstance(error.smtp_error, bytes)
        else str(error.smtp_error)
    )
    verdict: Verdict = "permanent" if 500 <= error.smtp_code < 600 else "temporary"
    return RelayResult(verdict, f"{error.smtp_code} {text}", code=error.smtp_code)


def _recipients_refused(refused: dict[str, tuple[int, bytes]]) -> RelayResult:
    codes = [code for code, _ in refused.values()]
    temporary = [code for code in codes if 400 <= code < 500]
    verdict: Verdict = "temporary" if temporary else "permanent"
    return RelayResult(verdict, _describe_refusals(refused), code=(temporary or codes)[0])


def _network_trouble(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


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
