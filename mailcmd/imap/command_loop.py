"""The command loop of a session: read, check the state, run, complete, catch up."""

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mailcmd.imap import (
    auth_commands,
    idling,
    mailbox_commands,
    message_commands,
    quota_commands,
)
from mailcmd.imap.connection import Command, ConnectionClosed
from mailcmd.imap.responses import BYE_TIMEOUT, GREETING, ImapResponses, internal_error
from mailcmd.imap.session import SENT, Done, ImapRefusal, Session, State
from mailcmd.imap.tokens import ImapParseError, Token, tokenize

log = logging.getLogger(__name__)

Handler = Callable[[Session, str, list[Token], bool], Awaitable[Done]]

ANY = frozenset(State) - {State.LOGOUT}
NOT_AUTHENTICATED = frozenset({State.NOT_AUTHENTICATED})
AUTHENTICATED = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})
_TAG = re.compile(r"[!#$&'*,\-./0-9:;<=>?@A-Z^_`a-z|~\[]{1,64}")


@dataclass(frozen=True)
class Entry:
    """A command: the states it is allowed in, its handler, and whether UID may prefix it."""

    states: frozenset[State]
    handler: Handler
    uid: bool = False
    # Whether the folder's news (EXISTS, EXPUNGE, other sessions' flag changes) goes
    # out with this command's completion. Only where clients act on it: Thunderbird
    # (and others) ignore an EXISTS that arrives with, say, the STORE of \Answered
    # after a reply, and would then wait minutes to show the app's answer. Held
    # news is not lost: it goes out at the next NOOP, CHECK or IDLE.
    reports_news: bool = False


COMMANDS: dict[str, Entry] = {
    "CAPABILITY": Entry(ANY, auth_commands.capability),
    "NOOP": Entry(ANY, auth_commands.noop, reports_news=True),
    "LOGOUT": Entry(ANY, auth_commands.logout),
    "ID": Entry(ANY, auth_commands.server_id),
    "STARTTLS": Entry(NOT_AUTHENTICATED, auth_commands.starttls),
    "LOGIN": Entry(NOT_AUTHENTICATED, auth_commands.login),
    "AUTHENTICATE": Entry(NOT_AUTHENTICATED, auth_commands.authenticate),
    "NAMESPACE": Entry(AUTHENTICATED, auth_commands.namespace),
    "LIST": Entry(AUTHENTICATED, mailbox_commands.list_mailboxes),
    "LSUB": Entry(AUTHENTICATED, mailbox_commands.lsub),
    "CREATE": Entry(AUTHENTICATED, mailbox_commands.create),
    "DELETE": Entry(AUTHENTICATED, mailbox_commands.delete),
    "RENAME": Entry(AUTHENTICATED, mailbox_commands.rename),
    "SUBSCRIBE": Entry(AUTHENTICATED, mailbox_commands.subscribe),
    "UNSUBSCRIBE": Entry(AUTHENTICATED, mailbox_commands.unsubscribe),
    "SELECT": Entry(AUTHENTICATED, mailbox_commands.select),
    "EXAMINE": Entry(AUTHENTICATED, mailbox_commands.examine),
    "STATUS": Entry(AUTHENTICATED, mailbox_commands.status),
    "APPEND": Entry(AUTHENTICATED, mailbox_commands.append),
    "IDLE": Entry(AUTHENTICATED, idling.idle),
    "GETQUOTAROOT": Entry(AUTHENTICATED, quota_commands.getquotaroot),
    "GETQUOTA": Entry(AUTHENTICATED, quota_commands.getquota),
    "SETQUOTA": Entry(AUTHENTICATED, quota_commands.setquota),
    "CHECK": Entry(SELECTED, auth_commands.noop, reports_news=True),
    "CLOSE": Entry(SELECTED, mailbox_commands.close),
    "UNSELECT": Entry(SELECTED, mailbox_commands.unselect),
    "EXPUNGE": Entry(SELECTED, message_commands.expunge, uid=True),
    "SEARCH": Entry(SELECTED, message_commands.search, uid=True),
    "FETCH": Entry(SELECTED, message_commands.fetch, uid=True),
    "STORE": Entry(SELECTED, message_commands.store, uid=True),
    "COPY": Entry(SELECTED, message_commands.copy, uid=True),
    "MOVE": Entry(SELECTED, message_commands.move, uid=True),
}


async def serve(session: Session) -> None:
    """Greet the client and run its commands until it logs out, times out or goes away."""
    connection = session.connection
    settings = session.context.settings
    loop = asyncio.get_running_loop()
    # The time to log in counts from the greeting, so that NOOPs cannot stretch it.
    login_deadline = loop.time() + settings.login_timeout
    await connection.respond(GREETING % session.capabilities().encode())
    while session.state is not State.LOGOUT:
        limit = settings.timeout
        if session.state is State.NOT_AUTHENTICATED:
            limit = max(login_deadline - loop.time(), 0.0)
        try:
            received = await asyncio.wait_for(connection.read_command(), limit)
        except TimeoutError:
            await connection.respond(BYE_TIMEOUT)
            return
        if isinstance(received, Command):
            await execute(session, received.data)
        else:
            await connection.respond(Done(received.condition, received.text).line(received.tag))


async def execute(session: Session, data: bytes) -> None:
    """Run one command and write its completion; no exception text reaches the client."""
    # The tag is read from the raw line first, so that a command too broken to
    # tokenise is still answered under its tag.
    first = data.split(b" ", 1)[0].decode("ascii", "replace")
    tag = first if _TAG.fullmatch(first) and first not in ("*", "+") else "*"
    try:
        if tag == "*":
            raise ImapParseError("missing or invalid tag")
        log.debug("IMAP %s: %s", session.login or session.connection.peer, _summary(data))
        tokens = tokenize(data)
        done = await _run(session, tag, tokens[1:])
    except ImapParseError as error:
        done = Done("BAD", str(error) or "Syntax error")
    except ImapRefusal as refusal:
        done = refusal.done
    except (ConnectionClosed, asyncio.CancelledError):
        raise
    except Exception:
        reference = secrets.token_hex(6)
        log.exception("IMAP command failed for %s (reference %s)", session.login, reference)
        done = internal_error(reference)
    if done is not SENT:
        await session.connection.respond(done.line(tag))


def _summary(data: bytes) -> str:
    # What the operator's debug log shows of a command: never a password.
    words = data.split(b" ", 2)
    if len(words) > 1 and words[1].upper() in (b"LOGIN", b"AUTHENTICATE"):
        return (b" ".join(words[:2]) + b" ...").decode("ascii", "replace")
    return data[:200].decode("ascii", "replace")


async def _run(session: Session, tag: str, words: list[Token]) -> Done:
    if not words or not isinstance(words[0], str):
        raise ImapParseError("missing command")
    name, uid = words[0].upper(), False
    args = words[1:]
    if name == "UID":
        if not args or not isinstance(args[0], str):
            raise ImapParseError("UID needs a command")
        name, uid, args = args[0].upper(), True, args[1:]
    entry = COMMANDS.get(name)
    if entry is None or (uid and not entry.uid):
        return ImapResponses.UNKNOWN
    if session.state not in entry.states:
        return ImapResponses.WRONG_STATE
    try:
        done = await entry.handler(session, tag, args, uid)
    finally:
        if entry.reports_news and session.state is State.SELECTED:
            await _catch_up(session)
    return done


async def _catch_up(session: Session) -> None:
    # The command's own outcome stands even if the news of the folder cannot be had;
    # the client hears it at a later command.
    try:
        await session.catch_up()
    except (ConnectionClosed, asyncio.CancelledError):
        raise
    except Exception:
        reference = secrets.token_hex(6)
        log.exception("IMAP catching up failed for %s (reference %s)", session.login, reference)
