"""The mailbox server's fixed responses, in one table, so tests compare with names."""

from mailcmd.imap.session import Done


class ImapResponses:
    """Named tagged completions (the texts clients show people)."""

    LOGGED_IN = Done("OK", "Logged in")
    LOGIN_FAILED = Done("NO", "Invalid credentials", "AUTHENTICATIONFAILED")
    LOCKED_OUT = Done("NO", "Too many failed logins, try again later", "UNAVAILABLE")
    TLS_FIRST = Done("NO", "Log in after STARTTLS", "PRIVACYREQUIRED")
    TLS_ALREADY = Done("BAD", "TLS is already on")
    BEGIN_TLS = Done("OK", "Begin TLS negotiation now")
    MECHANISM = Done("NO", "Only AUTHENTICATE PLAIN is offered", "CANNOT")
    AUTH_CANCELLED = Done("BAD", "Authentication cancelled")
    AUTH_MALFORMED = Done("BAD", "Malformed PLAIN credentials")
    AUTHZ_REFUSED = Done("NO", "Cannot act as another user", "AUTHORIZATIONFAILED")
    LOGOUT = Done("OK", "Logged out")
    COMPLETED = Done("OK", "Completed")
    UNKNOWN = Done("BAD", "Unknown command")
    WRONG_STATE = Done("BAD", "Command not allowed now")
    READ_ONLY = Done("NO", "The mailbox is read-only", "READ-ONLY")
    NO_MAILBOX = Done("NO", "No such mailbox", "TRYCREATE")
    TOO_BIG = Done("NO", "Message too large", "TOOBIG")
    BAD_CHARSET = Done("NO", "Unsupported charset", "BADCHARSET (UTF-8 US-ASCII)")
    IDLE_DONE = Done("OK", "IDLE terminated")
    IDLE_BAD = Done("BAD", "Expected DONE")


GREETING = b"* OK [CAPABILITY %s] mailcmd IMAP ready"
BYE_TIMEOUT = b"* BYE Autologout; idle for too long"
BYE_SHUTDOWN = b"* BYE Server shutting down"
BYE_BUSY = b"* BYE Too many connections, try again later"
BYE_LOGOUT = b"* BYE Logging out"


def internal_error(reference: str) -> Done:
    """The completion of a command that failed inside the server: a reference, no details."""
    return Done("NO", f"Internal error, reference {reference}", "SERVERBUG")
