"""QUOTA (RFC 9208, storage only): the account's use of `imap.quota`, one root for all."""

from mailcmd.db.database import Database
from mailcmd.imap import storage
from mailcmd.imap.formatting import mailbox_name
from mailcmd.imap.responses import ImapResponses
from mailcmd.imap.session import Done, ImapRefusal, Session
from mailcmd.imap.tokens import ImapParseError, Token, astring

# The one quota root: every folder of an account counts against it.
ROOT = ""


def _usage(database: Database, account_id: int) -> int:
    with database.sessions() as session:
        return storage.usage(session, account_id)


async def _quota_line(session: Session) -> bytes:
    used = await session.run_storage(_usage, session.database, session.account())
    limit = session.context.settings.quota
    # STORAGE counts in units of 1024 octets.
    return b'* QUOTA "" (STORAGE %d %d)' % (-(-used // 1024), limit // 1024)


async def getquotaroot(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """GETQUOTAROOT mailbox: the mailbox's root ("") and its quota, if a quota is set."""
    if len(args) != 1:
        raise ImapParseError("GETQUOTAROOT takes a mailbox name")
    state = await session.run_storage(
        storage.folder_state, session.database, session.account(), astring(args[0])
    )
    if not session.context.settings.quota:
        await session.connection.respond(b"* QUOTAROOT " + mailbox_name(state.name))
        return ImapResponses.COMPLETED
    await session.connection.respond(
        b'* QUOTAROOT %s ""' % mailbox_name(state.name), await _quota_line(session)
    )
    return ImapResponses.COMPLETED


async def getquota(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """GETQUOTA root: the account's storage use and limit."""
    if len(args) != 1:
        raise ImapParseError("GETQUOTA takes a quota root")
    if astring(args[0]) != ROOT or not session.context.settings.quota:
        raise ImapRefusal("no such quota root", "NONEXISTENT")
    await session.connection.respond(await _quota_line(session))
    return ImapResponses.COMPLETED


async def setquota(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """SETQUOTA: the quota is the operator's setting (`imap.quota`), not the client's."""
    raise ImapRefusal("the quota is set by the server's operator", "NOPERM")
