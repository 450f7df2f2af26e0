"""Every SMTP reply mailcmd sends, in one table, each with its enhanced status code (RFC 3463)."""

import re
from typing import NamedTuple


class SmtpReply(NamedTuple):
    """One SMTP reply: basic code, enhanced code, and text (which may hold `{fields}`)."""

    code: int
    enhanced: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}"

    def with_values(self, **values: object) -> str:
        """Return the reply line with `values` put into the text's fields."""
        return f"{self.code} {self.enhanced} {self.text.format(**values)}"


class SmtpReplies:
    """The named replies. Tests compare against these, never against literals."""

    OK = SmtpReply(250, "2.0.0", "OK")
    SENDER_OK = SmtpReply(250, "2.1.0", "Sender OK")
    RECIPIENT_OK = SmtpReply(250, "2.1.5", "Recipient OK")
    QUEUED = SmtpReply(250, "2.0.0", "Ok: queued as {queue_id}")
    RESET = SmtpReply(250, "2.0.0", "Reset")
    NOOP = SmtpReply(250, "2.0.0", "OK")
    BYE = SmtpReply(221, "2.0.0", "Bye")
    AUTH_OK = SmtpReply(235, "2.7.0", "Authentication successful")
    VRFY_NOTHING = SmtpReply(252, "2.1.5", "Cannot verify the user, but send and it will be tried")

    SHUTTING_DOWN = SmtpReply(421, "4.3.2", "Service shutting down, try again later")
    TIMEOUT = SmtpReply(421, "4.4.2", "Idle for too long, closing the connection")
    TOO_MANY_CONNECTIONS = SmtpReply(421, "4.7.0", "Too many connections, try again later")
    LOCKED_OUT = SmtpReply(421, "4.7.0", "Too many failed logins, try again later")
    TEMPORARY_FAILURE = SmtpReply(451, "4.3.0", "Temporary failure, try again later (ref {ref})")
    TOO_MANY_MESSAGES = SmtpReply(
        451, "4.7.0", "{login} sent {limit} messages in the last hour, try again later"
    )
    TOO_MANY_RECIPIENTS = SmtpReply(452, "4.5.3", "Too many recipients")
    TLS_UNAVAILABLE = SmtpReply(454, "4.7.0", "TLS not available")

    LINE_TOO_LONG = SmtpReply(500, "5.5.6", "Line too long")
    BAD_SYNTAX = SmtpReply(500, "5.5.2", "Syntax error")
    UNKNOWN_COMMAND = SmtpReply(500, "5.5.1", "Command not recognized")
    NOT_ASCII = SmtpReply(500, "5.5.2", "Non-ASCII text without SMTPUTF8")
    SYNTAX_ARGUMENTS = SmtpReply(501, "5.5.4", "Syntax error in parameters or arguments")
    AUTH_ABORTED = SmtpReply(501, "5.7.0", "Authentication aborted")
    BAD_BASE64 = SmtpReply(501, "5.5.2", "Cannot decode the base64 data")
    NOT_IMPLEMENTED = SmtpReply(502, "5.5.1", "Command not implemented")
    TOO_MANY_BAD_COMMANDS = SmtpReply(502, "5.5.1", "Too many unrecognized commands, goodbye")
    BAD_SEQUENCE = SmtpReply(503, "5.5.1", "Bad sequence of commands")
    TLS_ALREADY_ACTIVE = SmtpReply(503, "5.5.1", "TLS already active")
    ALREADY_AUTHENTICATED = SmtpReply(503, "5.5.1", "Already authenticated")
    UNKNOWN_MECHANISM = SmtpReply(504, "5.5.4", "Unrecognized authentication mechanism")
    AUTH_REQUIRED = SmtpReply(530, "5.7.0", "Authentication required")
    STARTTLS_FIRST = SmtpReply(530, "5.7.0", "Must issue a STARTTLS command first")
    AUTH_INVALID = SmtpReply(535, "5.7.8", "Authentication credentials invalid")
    ENCRYPTION_REQUIRED = SmtpReply(538, "5.7.11", "Encryption required for authentication")
    UNKNOWN_RECIPIENT = SmtpReply(550, "5.1.1", "No such mailbox here: {address}")
    REPLY_KEY_REFUSED = SmtpReply(
        550, "5.7.1", "{address} is not a reply address of yours: answer a mail you received"
    )
    REPLY_KEY_EXPIRED = SmtpReply(
        550, "5.7.1", "{address} has expired: nothing was done; write to the mailbox again"
    )
    FROM_NOT_OWNED = SmtpReply(550, "5.7.1", "From must be one address owned by {login}")
    LOCAL_DOMAIN_FROM_OUTSIDE = SmtpReply(
        550, "5.7.1", "Mail from {domain} is accepted only from its logged-in accounts"
    )
    MESSAGE_TOO_BIG = SmtpReply(552, "5.3.4", "Message size exceeds the limit of {limit} bytes")
    SENDER_NOT_OWNED = SmtpReply(553, "5.7.1", "Sender address not owned by {login}")
    MALFORMED_ADDRESS = SmtpReply(553, "5.1.3", "Malformed address")
    NON_ASCII_LOCAL_PART = SmtpReply(
        553, "5.6.7", "Non-ASCII local parts are not accepted here; use an ASCII address"
    )
    RELAY_DENIED = SmtpReply(554, "5.7.1", "Relaying denied: {address} is not a local address")
    TLS_REFUSED = SmtpReply(554, "5.7.0", "Command refused due to lack of security")
    BARE_LINE_ENDING = SmtpReply(
        554,
        "5.6.0",
        "Message refused: bare CR or LF in the data; lines must end in CRLF"
        " (with curl, add --crlf)",
    )
    UNKNOWN_PARAMETERS = SmtpReply(555, "5.5.4", "Parameters not recognized or not implemented")


_ENHANCED = re.compile(rb"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}(?: |$)")

# Replies that aiosmtpd writes itself, by the start of their text, and what we say
# instead. The first table holds engine replies that carry an enhanced code already
# (they are replaced, so that every text is ours); the second those without one.
_ENGINE_ENHANCED_REPLIES: tuple[tuple[bytes, SmtpReply], ...] = (
    (b"504 5.5.4 Unrecognized authentication type", SmtpReplies.UNKNOWN_MECHANISM),
    (b"530 5.7.0 Authentication required", SmtpReplies.AUTH_REQUIRED),
    (b"538 5.7.11 ", SmtpReplies.ENCRYPTION_REQUIRED),
    (b"553 5.1.3 Error: malformed address", SmtpReplies.MALFORMED_ADDRESS),
    (b"501 5.5.2 Can't", SmtpReplies.BAD_BASE64),
    (b"501 5.7.0 Auth aborted", SmtpReplies.AUTH_ABORTED),
    (b"502 5.5.1 Too many unrecognized", SmtpReplies.TOO_MANY_BAD_COMMANDS),
)
_ENGINE_REPLIES: tuple[tuple[bytes, SmtpReply], ...] = (
    (b"500 Command line too long", SmtpReplies.LINE_TOO_LONG),
    (b"500 Line too long", SmtpReplies.LINE_TOO_LONG),
    (b"500 Error: bad syntax", SmtpReplies.BAD_SYNTAX),
    (b"500 Error: strict ASCII mode", SmtpReplies.NOT_ASCII),
    (b"500 Error: command", SmtpReplies.UNKNOWN_COMMAND),
    (b"501 ", SmtpReplies.SYNTAX_ARGUMENTS),
    (b"502 ", SmtpReplies.NOT_IMPLEMENTED),
    (b"503 Already authenticated", SmtpReplies.ALREADY_AUTHENTICATED),
    (b"503 ", SmtpReplies.BAD_SEQUENCE),
    (b"530 Must issue a STARTTLS", SmtpReplies.STARTTLS_FIRST),
    (b"552 ", SmtpReplies.MESSAGE_TOO_BIG),
    (b"554 Command refused", SmtpReplies.TLS_REFUSED),
    (b"555 ", SmtpReplies.UNKNOWN_PARAMETERS),
    (b"250 OK", SmtpReplies.OK),
    (b"221 ", SmtpReplies.BYE),
    (b"454 ", SmtpReplies.TLS_UNAVAILABLE),
)


def with_enhanced_code(line: bytes, message_size_limit: int) -> bytes:
    """Return an engine reply `line` as mailcmd says it: with an enhanced status code.

    Lines that carry one already, greetings, EHLO's list, and intermediate replies
    (334, 354) pass unchanged.
    """
    for prefix, reply in _ENGINE_ENHANCED_REPLIES:
        if line.startswith(prefix):
            return reply.with_values(limit=message_size_limit).encode()
    if _ENHANCED.match(line) or line[:3] in (b"220", b"334", b"354") or line[3:4] == b"-":
        return line
    for prefix, reply in _ENGINE_REPLIES:
        if line.startswith(prefix):
            return reply.with_values(limit=message_size_limit).encode()
    if line.startswith(b"250 "):
        # The last line of the EHLO reply: a keyword, not a status.
        return line
    code = line[:3].decode("ascii", errors="replace")
    return f"{code} {code[0]}.0.0 {line[4:].decode('ascii', errors='replace')}".encode()
