"""Commands of any state and of logging in: CAPABILITY, NOOP, ID, STARTTLS, LOGIN, ..."""

import asyncio
import binascii
from base64 import b64decode

from mailcmd.imap import storage
from mailcmd.imap.formatting import string
from mailcmd.imap.responses import BYE_LOGOUT, ImapResponses
from mailcmd.imap.session import SENT, Done, Session, State
from mailcmd.imap.tokens import ImapParseError, Token, astring, astring_bytes

SERVER_ID = (("name", "mailcmd"), ("vendor", "mailcmd"))


async def capability(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """CAPABILITY: what this server offers in the session's state."""
    await session.connection.respond(f"* CAPABILITY {session.capabilities()}".encode())
    return ImapResponses.COMPLETED


async def noop(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """NOOP (and CHECK): nothing, but the selected folder's news is told."""
    return ImapResponses.COMPLETED


async def logout(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """LOGOUT: say goodbye; the session ends after the tagged OK."""
    await session.connection.respond(BYE_LOGOUT)
    session.state = State.LOGOUT
    return ImapResponses.LOGOUT


async def server_id(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """ID (RFC 2971): name the server; what the client says of itself is ignored."""
    if len(args) != 1:
        raise ImapParseError("ID takes one argument")
    fields = b" ".join(string(key) + b" " + string(value) for key, value in SERVER_ID)
    await session.connection.respond(b"* ID (" + fields + b")")
    return ImapResponses.COMPLETED


async def namespace(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """NAMESPACE (RFC 2342): one personal namespace, `/` between levels."""
    await session.connection.respond(b'* NAMESPACE (("" "/")) NIL NIL')
    return ImapResponses.COMPLETED


async def starttls(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """STARTTLS: encrypt the connection; what the client sent before it is not trusted."""
    connection = session.connection
    if connection.encrypted:
        return ImapResponses.TLS_ALREADY
    await connection.respond(ImapResponses.BEGIN_TLS.line(tag))
    # A command pipelined after STARTTLS arrived unencrypted; it must not be run as
    # if it came through TLS (the STARTTLS command-injection attack), so the
    # connection ends instead. StreamReader has no public view of its buffer.
    if getattr(connection.reader, "_buffer", b""):
        session.state = State.LOGOUT
        return SENT
    await connection.start_tls(session.context.tls.context)
    return SENT


async def login(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """LOGIN user password, only over TLS."""
    if not session.connection.encrypted:
        return ImapResponses.TLS_FIRST
    if len(args) != 2:
        raise ImapParseError("LOGIN takes a user name and a password")
    user = astring(args[0])
    password = astring_bytes(args[1]).decode("utf-8", "surrogateescape")
    return await _authenticate(session, user, password)


async def authenticate(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """AUTHENTICATE PLAIN, with or without an initial response (SASL-IR), over TLS."""
    if not session.connection.encrypted:
        return ImapResponses.TLS_FIRST
    if not args or len(args) > 2:
        raise ImapParseError("AUTHENTICATE takes a mechanism and an optional initial response")
    if astring(args[0]).upper() != "PLAIN":
        return ImapResponses.MECHANISM
    if len(args) == 2:
        response = astring_bytes(args[1])
        if response == b"=":
            response = b""
    else:
        await session.connection.write(b"+ \r\n")
        response = await session.connection.read_line()
    if response.strip() == b"*":
        return ImapResponses.AUTH_CANCELLED
    try:
        decoded = b64decode(response, validate=True)
    except (binascii.Error, ValueError):
        return ImapResponses.AUTH_MALFORMED
    parts = decoded.split(b"\0")
    if len(parts) != 3:
        return ImapResponses.AUTH_MALFORMED
    authzid, user, password = (part.decode("utf-8", "surrogateescape") for part in parts)
    if authzid and authzid != user:
        return ImapResponses.AUTHZ_REFUSED
    return await _authenticate(session, user, password)


async def _authenticate(session: Session, user: str, password: str) -> Done:
    outcome = await session.context.authenticator.authenticate(
        user, password, session.connection.peer
    )
    if outcome.locked:
        session.state = State.LOGOUT
        return ImapResponses.LOCKED_OUT
    if outcome.verified is None:
        await asyncio.sleep(outcome.delay)  # the throttle's delay, not a wait for an event
        return ImapResponses.LOGIN_FAILED
    verified = outcome.verified
    await asyncio.to_thread(storage.ensure_folders, session.database, verified.account_id)
    kept = session.context.kept_folders
    if kept is not None:
        # A fresh account, or one from before the app declared its folders, sees
        # them at once.
        await asyncio.to_thread(
            storage.sync_app_folders, session.database, verified.account_id, kept
        )
    session.logged_in(verified.account_id, verified.login)
    return Done("OK", ImapResponses.LOGGED_IN.text, f"CAPABILITY {session.capabilities()}")
