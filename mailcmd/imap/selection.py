"""The selected mailbox of one session: its message numbers, and how it catches up.

A session sees the folder as it was at its last look; `sync` compares with the
folder now and says what changed, in the untagged responses RFC 3501 has for it.
News is told only where clients act on it (NOOP, CHECK, IDLE; see `dispatch`), so
never during FETCH, STORE or SEARCH, where RFC 3501 forbids EXPUNGE; until then an
expunged message keeps its number and fetches as nothing.
"""

import bisect
from dataclasses import dataclass, field

from mailcmd.imap.formatting import flag_list
from mailcmd.imap.storage import Snapshot

RECENT = "\\Recent"


@dataclass
class Selection:
    """The folder a session selected, as the session has told its client about it."""

    folder_id: int
    name: str
    uid_validity: int
    read_only: bool
    uids: list[int] = field(default_factory=list)
    flags: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # Messages that arrived while this session had the folder selected.
    recent: set[int] = field(default_factory=set)

    def load(self, snapshot: Snapshot) -> None:
        """Take the folder's messages as they are now, without reporting anything."""
        self.uids = list(snapshot.uids)
        self.flags = dict(snapshot.flags)

    def number(self, uid: int) -> int:
        """Return the message number of `uid` (which must be in the selection)."""
        return bisect.bisect_left(self.uids, uid) + 1

    def shown_flags(self, uid: int) -> tuple[str, ...]:
        """The flags of `uid` as FETCH shows them: \\Recent added for new arrivals."""
        stored = self.flags.get(uid, ())
        return (*stored, RECENT) if uid in self.recent else stored

    def sync(self, snapshot: Snapshot) -> list[bytes]:
        """Catch up with `snapshot`; return the untagged responses that say what changed."""
        present = set(snapshot.uids)
        lines = self.remove([uid for uid in self.uids if uid not in present])
        known = set(self.uids)
        highest = self.uids[-1] if self.uids else 0
        new = [uid for uid in snapshot.uids if uid > highest]
        for uid in snapshot.uids:
            if uid in known and snapshot.flags[uid] != self.flags.get(uid):
                self.flags[uid] = snapshot.flags[uid]
                lines.append(self.flags_response(uid))
        if new:
            for uid in new:
                self.flags[uid] = snapshot.flags[uid]
            self.uids += new
            self.recent.update(new)
            lines.append(b"* %d EXISTS" % len(self.uids))
            lines.append(b"* %d RECENT" % len(self.recent))
        return lines

    def flags_response(self, uid: int) -> bytes:
        """Return the untagged FETCH that tells a message's flags (and UID)."""
        return b"* %d FETCH (UID %d FLAGS %s)" % (
            self.number(uid),
            uid,
            flag_list(self.shown_flags(uid)),
        )

    def remove(self, uids: list[int]) -> list[bytes]:
        """Forget expunged `uids`; return their EXPUNGE responses.

        Highest numbers go first, so that each number is right when it is read.
        """
        gone = set(uids) & set(self.uids)
        if not gone:
            return []
        numbers = [index + 1 for index, uid in enumerate(self.uids) if uid in gone]
        self.uids = [uid for uid in self.uids if uid not in gone]
        for uid in gone:
            self.flags.pop(uid, None)
            self.recent.discard(uid)
        return [b"* %d EXPUNGE" % number for number in reversed(numbers)]
