"""Commands on folders: LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, SELECT, STATUS, APPEND."""

from mailcmd.db.database import Database
from mailcmd.imap import listing, storage
from mailcmd.imap.formatting import flag_list, mailbox_name
from mailcmd.imap.mailbox_names import DELIMITER, canonical_name
from mailcmd.imap.responses import ImapResponses
from mailcmd.imap.searching import parse_date_time
from mailcmd.imap.selection import Selection
from mailcmd.imap.session import Done, ImapRefusal, Session, State
from mailcmd.imap.tokens import ImapParseError, Token, astring, flags_argument, is_atom

FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN")


async def list_mailboxes(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """LIST [(options)] reference pattern [RETURN (...)], with RFC 6154 special-use flags."""
    return await _list(session, args, "LIST")


async def lsub(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """LSUB reference pattern: the subscribed folders."""
    return await _list(session, args, "LSUB")


async def _list(session: Session, args: list[Token], verb: str) -> Done:
    options: set[str] = set()
    if args and isinstance(args[0], list):
        options = {astring(option).upper() for option in args[0]}
        args = args[1:]
    if len(args) >= 4 and is_atom(args[2], "RETURN"):
        args = args[:2]
    if len(args) != 2:
        raise ImapParseError(f"{verb} takes a reference and a pattern")
    reference = astring(args[0])
    patterns = [astring(p) for p in args[1]] if isinstance(args[1], list) else [astring(args[1])]
    if patterns == [""]:
        await session.connection.respond(b'* %s (\\Noselect) "/" ""' % verb.encode())
        return ImapResponses.COMPLETED
    if len(patterns) > listing.MAX_PATTERNS:
        raise ImapParseError(f"at most {listing.MAX_PATTERNS} patterns")
    if any(len(reference + pattern) > listing.MAX_PATTERN_LENGTH for pattern in patterns):
        raise ImapParseError(f"patterns are at most {listing.MAX_PATTERN_LENGTH} characters")
    request = listing.ListRequest(verb, reference, patterns, frozenset(options))
    # Matching and formatting thousands of folders is work: it is done in a thread.
    lines = await session.run_storage(_listing, session.database, session.account(), request)
    await session.connection.respond(*lines)
    return ImapResponses.COMPLETED


def _listing(database: Database, account_id: int, request: listing.ListRequest) -> list[bytes]:
    return listing.list_responses(request, storage.list_folders(database, account_id))


def _one_name(args: list[Token], verb: str) -> str:
    if len(args) != 1:
        raise ImapParseError(f"{verb} takes a mailbox name")
    return astring(args[0])


async def create(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """CREATE name: a new folder (and its missing parents)."""
    name = _one_name(args[:1], "CREATE")
    await session.run_storage(
        storage.create_folder,
        session.database,
        session.account(),
        name,
        session.context.settings.max_folders,
    )
    return ImapResponses.COMPLETED


async def delete(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """DELETE name: the folder and its messages; not the default folders, nor parents."""
    name = canonical_name(_one_name(args, "DELETE"))
    folders = await session.run_storage(storage.list_folders, session.database, session.account())
    if any(folder.name.startswith(name + DELIMITER) for folder in folders):
        raise ImapRefusal("delete the folders inside it first", "CANNOT")
    if session.selected is not None and session.selected.name == name:
        session.selected = None
        session.state = State.AUTHENTICATED
    await session.run_storage(storage.delete_folder, session.database, session.account(), name)
    session.announce()
    return ImapResponses.COMPLETED


async def rename(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """RENAME old new, with the folders inside it."""
    if len(args) != 2:
        raise ImapParseError("RENAME takes two mailbox names")
    old, new = astring(args[0]), astring(args[1])
    await session.run_storage(storage.rename_folder, session.database, session.account(), old, new)
    if session.selected is not None and session.selected.name == canonical_name(old):
        session.selected.name = canonical_name(new)
    session.announce()
    return ImapResponses.COMPLETED


async def subscribe(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """SUBSCRIBE name."""
    name = _one_name(args, "SUBSCRIBE")
    await session.run_storage(
        storage.set_subscribed, session.database, session.account(), name, True
    )
    return ImapResponses.COMPLETED


async def unsubscribe(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """UNSUBSCRIBE name."""
    name = _one_name(args, "UNSUBSCRIBE")
    await session.run_storage(
        storage.set_subscribed, session.database, session.account(), name, False
    )
    return ImapResponses.COMPLETED


async def select(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """SELECT name: open the folder read-write."""
    return await _open(session, args, read_only=False)


async def examine(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """EXAMINE name: open the folder read-only."""
    return await _open(session, args, read_only=True)


async def _open(session: Session, args: list[Token], read_only: bool) -> Done:
    if not args or len(args) > 2:
        raise ImapParseError("SELECT takes a mailbox name")
    name = astring(args[0])
    session.selected = None
    session.state = State.AUTHENTICATED
    state = await session.run_storage(
        storage.folder_state, session.database, session.account(), name
    )
    snapshot = await session.run_storage(storage.snapshot, session.database, state.id)
    selection = Selection(state.id, state.name, state.uid_validity, read_only)
    selection.load(snapshot)
    keywords = sorted({f for flags in snapshot.flags.values() for f in flags} - set(FLAGS))
    permanent = () if read_only else (*FLAGS, *keywords, "\\*")
    first_unseen = next(
        (n for n, uid in enumerate(snapshot.uids, 1) if "\\Seen" not in snapshot.flags[uid]),
        None,
    )
    lines = [
        b"* FLAGS " + flag_list((*FLAGS, *keywords)),
        b"* OK [PERMANENTFLAGS " + flag_list(permanent) + b"] Flags permitted",
        b"* %d EXISTS" % len(snapshot.uids),
        b"* 0 RECENT",
        b"* OK [UIDVALIDITY %d] UIDs valid" % state.uid_validity,
        b"* OK [UIDNEXT %d] Predicted next UID" % snapshot.uid_next,
    ]
    if first_unseen is not None:
        lines.append(b"* OK [UNSEEN %d] First unseen" % first_unseen)
    await session.connection.respond(*lines)
    session.selected = selection
    session.state = State.SELECTED
    return Done("OK", "Opened", "READ-ONLY" if read_only else "READ-WRITE")


async def status(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """STATUS name (items): counts of a folder without selecting it."""
    if len(args) != 2 or not isinstance(args[1], list):
        raise ImapParseError("STATUS takes a mailbox name and a list of items")
    items = [astring(item).upper() for item in args[1]]
    if not items or any(item not in STATUS_ITEMS for item in items):
        raise ImapParseError("unknown STATUS item")
    state = await session.run_storage(
        storage.folder_state, session.database, session.account(), astring(args[0])
    )
    recent = 0
    if session.selected is not None and session.selected.folder_id == state.id:
        recent = len(session.selected.recent)
    values = {
        "MESSAGES": state.messages,
        "RECENT": recent,
        "UIDNEXT": state.uid_next,
        "UIDVALIDITY": state.uid_validity,
        "UNSEEN": state.unseen,
    }
    pairs = " ".join(f"{item} {values[item]}" for item in items)
    await session.connection.respond(
        b"* STATUS " + mailbox_name(state.name) + f" ({pairs})".encode()
    )
    return ImapResponses.COMPLETED


async def append(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """APPEND name [(flags)] [date-time] message, answered with APPENDUID (UIDPLUS)."""
    if len(args) < 2 or not isinstance(args[-1], bytes):
        raise ImapParseError("APPEND takes a mailbox name and a message literal")
    name = astring(args[0])
    raw = args[-1]
    flags: list[str] = []
    moment = None
    for extra in args[1:-1]:
        if isinstance(extra, list):
            flags = flags_argument(extra)
        else:
            moment = parse_date_time(astring(extra))
    if len(raw) > session.context.max_message_size:
        return ImapResponses.TOO_BIG
    if not raw:
        raise ImapParseError("empty message")
    quota = session.context.settings.quota or None
    validity, new_uid = await session.run_storage(
        storage.append_message,
        session.database,
        session.account(),
        name,
        raw,
        flags,
        moment,
        quota,
    )
    session.announce()
    if session.selected is not None and session.selected.name == canonical_name(name):
        # RFC 3502: an APPEND to the selected folder is told at once with EXISTS.
        await session.catch_up()
    return Done("OK", "Appended", f"APPENDUID {validity} {new_uid}")


async def close(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """CLOSE: expunge silently (unless read-only) and leave the folder."""
    selection = session.selection()
    session.selected = None
    session.state = State.AUTHENTICATED
    if not selection.read_only:
        removed = await session.run_storage(
            storage.expunge,
            session.database,
            session.account(),
            selection.folder_id,
            kept=session.context.kept_folders,
            client=session.connection.peer,
        )
        if removed:
            session.announce()
    return ImapResponses.COMPLETED


async def unselect(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """UNSELECT (RFC 3691): leave the folder without expunging."""
    session.selected = None
    session.state = State.AUTHENTICATED
    return ImapResponses.COMPLETED
