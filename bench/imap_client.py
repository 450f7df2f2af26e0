"""A minimal IMAPS client for timing what a folder shows: commands, and IDLE until a new UID.

Raw lines over TLS (no imaplib: it has no IDLE before Python 3.14), enough for
LOGIN, SELECT, UID STORE, UID MOVE, UID FETCH and IDLE. Responses with literals
are not expected from the commands it sends.
"""

import contextlib
import re
import select
import socket
import time
from dataclasses import dataclass

from bench.load import client_tls_context

EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$")
UID = re.compile(rb"\bUID (\d+)")
FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
COPYUID = re.compile(rb"\[COPYUID \d+ \d+ (\d+)\]")
TIMEOUT = 30.0


class ImapError(Exception):
    """The server answered a command with something other than OK."""


@dataclass(frozen=True)
class Message:
    """A message of the selected folder: its UID and flags."""

    uid: int
    flags: frozenset[str]


class ImapClient:
    """One logged-in IMAPS connection to 127.0.0.1."""

    def __init__(self, port: int, login: str, password: str) -> None:
        """Connect over implicit TLS to `port` and log in."""
        raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = client_tls_context().wrap_socket(raw)
        self._buffer = b""
        self._tags = 0
        self._idling = ""
        self._line()  # the greeting
        self.command(f'LOGIN "{login}" "{password}"')

    def command(self, text: str) -> tuple[list[bytes], bytes]:
        """Send one command and return its untagged lines and its tagged OK line."""
        self._tags += 1
        tag = f"t{self._tags}"
        self._socket.sendall(f"{tag} {text}\r\n".encode())
        untagged: list[bytes] = []
        while True:
            line = self._line()
            if line.startswith(tag.encode() + b" "):
                if not line[len(tag) + 1 :].startswith(b"OK"):
                    raise ImapError(f"{text.split()[0]}: {line.decode(errors='replace').strip()}")
                return untagged, line
            untagged.append(line)

    def select(self, folder: str) -> None:
        """Select `folder`."""
        self.command(f'SELECT "{folder}"')

    def messages(self, which: str = "1:*") -> list[Message]:
        """The UIDs and flags of the selected folder's messages `which` (a UID set), by UID."""
        try:
            untagged, _ = self.command(f"UID FETCH {which} (UID FLAGS)")
        except ImapError:
            return []  # an empty folder has no `*`
        found = []
        for line in untagged:
            uid, flags = UID.search(line), FLAGS.search(line)
            if uid is not None:
                names = frozenset((flags.group(1) if flags else b"").decode().split())
                found.append(Message(int(uid.group(1)), names))
        return sorted(found, key=lambda message: message.uid)

    def newest(self) -> Message | None:
        """The UID and flags of the selected folder's last message; None when it is empty."""
        found = self.messages("*")
        return found[-1] if found else None

    def idle(self) -> None:
        """Start IDLE on the selected folder: news of it comes from now on."""
        self._tags += 1
        self._idling = f"t{self._tags}"
        self._socket.sendall(f"{self._idling} IDLE\r\n".encode())
        deadline = time.perf_counter() + TIMEOUT
        while not self._line(deadline).startswith(b"+"):
            pass

    def until_newer(self, uid: int, timeout: float = TIMEOUT) -> tuple[float, Message]:
        """In IDLE, wait for an EXISTS that brings a message of UID above `uid`.

        Returns when (`time.perf_counter`) that EXISTS line was read, and the
        message; the client is no longer in IDLE. After each EXISTS the client ends
        IDLE and fetches the last message's UID; if it is not yet the awaited one, it
        IDLEs again (news of the few milliseconds between comes when IDLE starts).
        """
        deadline = time.perf_counter() + timeout
        while True:
            while not EXISTS.match(self._line(deadline)):
                pass
            seen_at = time.perf_counter()
            self._socket.sendall(b"DONE\r\n")
            while not self._line(deadline).startswith(self._idling.encode() + b" "):
                pass
            newest = self.newest()
            if newest is not None and newest.uid > uid:
                return seen_at, newest
            self.idle()

    def close(self) -> None:
        """Log out and close the connection."""
        with contextlib.suppress(OSError, ImapError):
            self.command("LOGOUT")
        self._socket.close()

    def _line(self, deadline: float | None = None) -> bytes:
        while b"\r\n" not in self._buffer:
            if deadline is not None and not self._socket.pending():
                left = deadline - time.perf_counter()
                if left <= 0 or not select.select([self._socket], [], [], left)[0]:
                    raise TimeoutError("no news from the IMAP server in time")
            chunk = self._socket.recv(65536)
            if not chunk:
                raise ConnectionError("the IMAP server closed the connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line + b"\r\n"


def moved_uid(lines: list[bytes]) -> int:
    """The UID a message got in the target folder, from a UID MOVE's COPYUID response code."""
    for line in lines:
        match = COPYUID.search(line)
        if match is not None:
            return int(match.group(1))
    raise ImapError(f"no COPYUID in {lines!r}")
