"""The reply keys' secrets, in a private file of the state folder: made once, rotated on
the operator's word with an overlap, reread when it changes."""

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from mailcmd.addressing.reply_keys import ReplyKeys
from mailcmd.db.private_files import write_private
from mailcmd.db.types import utc_now
from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError

FILE_NAME = "reply-keys.json"
SECRET_BYTES = 32


class KeyFileError(MailcmdError):
    """The secrets file cannot be read; the message names it."""

    exit_code = EXIT_BAD_SETTINGS


@dataclass(frozen=True)
class Secret:
    """One secret: made at some time, and, once replaced, accepted until some time."""

    value: bytes
    made_at: datetime
    accepted_until: datetime | None = None

    def accepted_at(self, moment: datetime) -> bool:
        """Whether a key made with this secret is still good at `moment`."""
        return self.accepted_until is None or self.accepted_until > moment


class ReplyKeyFile:
    """The secrets file of one state folder, and the `ReplyKeys` it holds now.

    Every process of an installation (front ends, workers) reads the same file, and
    rereads it when it changes, so that a rotation reaches them all without a
    restart. On several machines, copy the file to each.
    """

    def __init__(self, state_dir: Path) -> None:
        """Use `state_dir`'s secrets file, making it with one secret if it is missing."""
        self.path = state_dir / FILE_NAME
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._keys: ReplyKeys | None = None
        if not self.path.exists():
            self._write([Secret(secrets.token_bytes(SECRET_BYTES), utc_now())])

    def keys(self) -> ReplyKeys:
        """Return the keys for now: the current secret and those still accepted."""
        stat = self.path.stat()
        seen = (stat.st_mtime_ns, stat.st_ino)
        with self._lock:
            if self._keys is None or seen != self._seen:
                now = utc_now()
                usable = [
                    s for s in self._read() if s.accepted_until is None or s.accepted_until > now
                ]
                self._keys = ReplyKeys([secret.value for secret in usable])
                self._seen = seen
            return self._keys

    def rotate(self, overlap: timedelta) -> datetime:
        """Make a new current secret; the one it replaces is accepted for `overlap` more.

        Returns when the replaced secret stops being accepted. Secrets past their
        time are dropped from the file.
        """
        now = utc_now()
        until = now + overlap
        kept = [
            Secret(s.value, s.made_at, s.accepted_until or until)
            for s in self._read()
            if s.accepted_at(now)
        ]
        self._write([Secret(secrets.token_bytes(SECRET_BYTES), now), *kept])
        return until

    def _read(self) -> list[Secret]:
        try:
            entries = json.loads(self.path.read_bytes())["secrets"]
            found = [
                Secret(
                    value=bytes.fromhex(entry["secret"]),
                    made_at=datetime.fromisoformat(entry["made_at"]),
                    accepted_until=(
                        datetime.fromisoformat(entry["accepted_until"])
                        if entry["accepted_until"]
                        else None
                    ),
                )
                for entry in entries
            ]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KeyFileError(f"{self.path}: cannot be read ({error})") from None
        if not found or found[0].accepted_until is not None:
            raise KeyFileError(f"{self.path}: holds no current secret")
        return found

    def _write(self, found: list[Secret]) -> None:
        document = {
            "secrets": [
                {
                    "secret": secret.value.hex(),
                    "made_at": secret.made_at.isoformat(),
                    "accepted_until": (
                        secret.accepted_until.isoformat() if secret.accepted_until else None
                    ),
                }
                for secret in found
            ]
        }
        # Written under another name and renamed: readers see the change as a new inode.
        write_private(self.path, json.dumps(document, indent=2).encode() + b"\n")
