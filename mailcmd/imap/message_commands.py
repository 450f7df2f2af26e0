"""Commands on the selected folder's messages: FETCH, STORE, COPY, MOVE, EXPUNGE, SEARCH."""

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Literal

from mailcmd.db.database import Database
from mailcmd.imap import storage
from mailcmd.imap.fetch_items import FetchItem, MessageData, parse_fetch_items, render_fetch
from mailcmd.imap.responses import ImapResponses
from mailcmd.imap.searching import Candidate, CharsetError, Query, evaluate, parse_search
from mailcmd.imap.selection import Selection
from mailcmd.imap.sequences import parse_sequence_set, resolve_numbers, resolve_uids
from mailcmd.imap.session import Done, Session
from mailcmd.imap.tokens import ImapParseError, Token, astring, flags_argument

# Messages loaded (and rendered) at once when their bytes are needed.
CHUNK = 100
_STORE_MODES: dict[str, Literal["add", "remove", "replace"]] = {
    "+FLAGS": "add",
    "-FLAGS": "remove",
    "FLAGS": "replace",
}


def chosen_uids(selection: Selection, token: Token, uid: bool) -> list[int]:
    """Return the UIDs a sequence-set argument names, by UID or by message number."""
    ranges = parse_sequence_set(astring(token))
    if uid:
        positions = resolve_uids(ranges, selection.uids)
    else:
        if any(n > len(selection.uids) for pair in ranges for n in pair):
            raise ImapParseError("no message has that number")
        positions = resolve_numbers(ranges, len(selection.uids))
    return [selection.uids[position] for position in positions]


def uid_set(uids: Sequence[int]) -> str:
    """Return UIDs as a compact set (`1:3,7`), in the order given."""
    parts: list[str] = []
    start = previous = None
    for uid in uids:
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = uid
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}:{previous}")
    return ",".join(parts)


async def fetch(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """FETCH set items; BODY[...] without PEEK marks messages \\Seen."""
    if len(args) != 2:
        raise ImapParseError("FETCH takes a sequence set and items")
    selection = session.selection()
    uids = chosen_uids(selection, args[0], uid)
    items = parse_fetch_items(args[1])
    needs_raw = any(item.needs_raw for item in items)
    if any(item.sets_seen for item in items) and not selection.read_only:
        unseen = [u for u in uids if "\\Seen" not in selection.flags.get(u, ())]
        if unseen:
            await session.run_storage(
                storage.change_flags,
                session.database,
                session.account(),
                selection.folder_id,
                unseen,
                "add",
                ["\\Seen"],
                kept=session.context.kept_folders,
                client=session.connection.peer,
            )
            session.announce()
            if not any(item.name == "FLAGS" for item in items):
                items = [*items, FetchItem("FLAGS")]
    for start in range(0, len(uids), CHUNK if needs_raw else 10 * CHUNK):
        chunk = uids[start : start + (CHUNK if needs_raw else 10 * CHUNK)]
        lines = await asyncio.to_thread(
            _render_chunk, session.database, selection, chunk, items, needs_raw, uid
        )
        if lines:
            await session.connection.respond(*lines)
    return ImapResponses.COMPLETED


def _render_chunk(
    database: Database,
    selection: Selection,
    uids: list[int],
    items: list[FetchItem],
    needs_raw: bool,
    with_uid: bool,
) -> list[bytes]:
    found = storage.load_messages(database, selection.folder_id, uids, needs_raw)
    lines = []
    for uid in uids:
        data = found.get(uid)
        if data is None:  # expunged by another session; its number stays until told
            continue
        selection.flags[uid] = data.flags
        shown = dataclasses.replace(data, flags=selection.shown_flags(uid))
        lines.append(render_fetch(selection.number(uid), shown, items, with_uid))
    return lines


async def store(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """STORE set (+|-)FLAGS[.SILENT] flags."""
    if len(args) < 3:
        raise ImapParseError("STORE takes a sequence set, an item and flags")
    selection = session.selection()
    if selection.read_only:
        return ImapResponses.READ_ONLY
    uids = chosen_uids(selection, args[0], uid)
    item = astring(args[1]).upper()
    silent = item.endswith(".SILENT")
    mode = _STORE_MODES.get(item.removesuffix(".SILENT"))
    if mode is None:
        raise ImapParseError("STORE takes FLAGS, +FLAGS or -FLAGS")
    flags = [flag for token in args[2:] for flag in flags_argument(token)]
    _check_flags(flags)
    changed = await session.run_storage(
        storage.change_flags,
        session.database,
        session.account(),
        selection.folder_id,
        uids,
        mode,
        flags,
        kept=session.context.kept_folders,
        client=session.connection.peer,
    )
    session.announce()
    lines = []
    for changed_uid in uids:
        if changed_uid not in changed:
            continue
        selection.flags[changed_uid] = changed[changed_uid]
        if not silent:
            lines.append(selection.flags_response(changed_uid))
    await session.connection.respond(*lines)
    return ImapResponses.COMPLETED


def _check_flags(flags: list[str]) -> None:
    for flag in flags:
        if len(flag) > storage.MAX_FLAG_LENGTH or any(c in flag for c in '(){%*"]'):
            raise ImapParseError("not a valid flag")
        if flag.startswith("\\") and flag.lower() not in storage.SYSTEM_FLAGS:
            raise ImapParseError(f"{flag} cannot be stored")


async def copy(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """COPY set mailbox, answered with COPYUID (UIDPLUS)."""
    return await _copy(session, args, uid, move=False)


async def move(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """MOVE set mailbox (RFC 6851): COPYUID, then the sources' EXPUNGE responses."""
    if session.selection().read_only:
        return ImapResponses.READ_ONLY
    return await _copy(session, args, uid, move=True)


async def _copy(session: Session, args: list[Token], uid: bool, move: bool) -> Done:
    if len(args) != 2:
        raise ImapParseError("COPY takes a sequence set and a mailbox name")
    selection = session.selection()
    uids = chosen_uids(selection, args[0], uid)
    quota = session.context.settings.quota or None
    validity, pairs = await session.run_storage(
        storage.copy_messages,
        session.database,
        session.account(),
        selection.folder_id,
        uids,
        astring(args[1]),
        move,
        quota,
        kept=session.context.kept_folders,
        client=session.connection.peer,
    )
    session.announce()
    if not pairs:
        return ImapResponses.COMPLETED
    code = f"COPYUID {validity} {uid_set([s for s, _ in pairs])} {uid_set([d for _, d in pairs])}"
    if not move:
        return Done("OK", "Copied", code)
    await session.connection.respond(
        f"* OK [{code}] Moved".encode(), *selection.remove([s for s, _ in pairs])
    )
    return ImapResponses.COMPLETED


async def expunge(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """EXPUNGE, or UID EXPUNGE set (UIDPLUS): remove \\Deleted messages for good."""
    selection = session.selection()
    if selection.read_only:
        return ImapResponses.READ_ONLY
    limit = None
    if uid:
        if len(args) != 1:
            raise ImapParseError("UID EXPUNGE takes a UID set")
        limit = chosen_uids(selection, args[0], uid=True)
    elif args:
        raise ImapParseError("EXPUNGE takes no arguments")
    removed = await session.run_storage(
        storage.expunge,
        session.database,
        session.account(),
        selection.folder_id,
        limit,
        kept=session.context.kept_folders,
        client=session.connection.peer,
    )
    if removed:
        session.announce()
        await session.connection.respond(*selection.remove(removed))
    return ImapResponses.COMPLETED


async def search(session: Session, tag: str, args: list[Token], uid: bool) -> Done:
    """SEARCH [CHARSET c] criteria: numbers (or UIDs) of the matching messages."""
    selection = session.selection()
    try:
        query = parse_search(args)
    except CharsetError:
        return ImapResponses.BAD_CHARSET
    query.uids = list(selection.uids)
    found = await asyncio.to_thread(_search, session.database, selection, query)
    numbers = [selection.number(u) if not uid else u for u in found]
    await session.connection.respond(b"* SEARCH" + b"".join(b" %d" % number for number in numbers))
    return ImapResponses.COMPLETED


def _search(database: Database, selection: Selection, query: Query) -> list[int]:
    matched: list[int] = []
    uids = list(selection.uids)
    size = CHUNK if query.needs_raw else 10 * CHUNK
    for start in range(0, len(uids), size):
        chunk = uids[start : start + size]
        found: dict[int, MessageData] = storage.load_messages(
            database, selection.folder_id, chunk, query.needs_raw
        )
        candidates = [
            Candidate(start + index + 1, found[u], u in selection.recent)
            for index, u in enumerate(chunk)
            if u in found
        ]
        matched += [candidate.data.uid for candidate in evaluate(query, candidates)]
    return matched
