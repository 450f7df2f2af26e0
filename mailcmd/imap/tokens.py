"""IMAP command syntax: a whole command (literals included) read into tokens.

A command arrives as the bytes the client sent, literals inline after their `{N}`
marker. Atoms become `str`, quoted strings and literals `bytes`, parenthesised
lists `list`. A fetch attribute such as `BODY.PEEK[HEADER.FIELDS (TO)]<0.100>` is one
atom: brackets hold spaces and parentheses, as RFC 3501's grammar allows there.
"""

import re
from typing import TypeAlias

from mailcmd.errors import MailcmdError

Token: TypeAlias = str | bytes | list["Token"]

_LITERAL = re.compile(rb"\{(\d{1,10})\+?\}\r?\n")
# Characters that end an atom (RFC 3501 atom-specials, less the ones we read on).
_ATOM_END = frozenset(b' (){"\r\n')
MAX_NESTING = 16


class ImapParseError(MailcmdError):
    """The command is not valid IMAP syntax; the text says why, for a BAD response."""


def tokenize(command: bytes) -> list[Token]:
    """Return the tokens of one complete command (without its final CRLF)."""
    tokens, end = _read_sequence(command, 0, depth=0)
    if end != len(command):
        raise ImapParseError("unbalanced parenthesis")
    return tokens


def _read_sequence(data: bytes, position: int, depth: int) -> tuple[list[Token], int]:
    if depth > MAX_NESTING:
        raise ImapParseError("lists nested too deeply")
    tokens: list[Token] = []
    while position < len(data):
        byte = data[position]
        if byte == 0x20:
            position += 1
        elif byte == 0x29:  # ")"
            if depth == 0:
                raise ImapParseError("unbalanced parenthesis")
            return tokens, position
        elif byte == 0x28:  # "("
            inner, position = _read_sequence(data, position + 1, depth + 1)
            if position >= len(data) or data[position] != 0x29:
                raise ImapParseError("unbalanced parenthesis")
            tokens.append(inner)
            position += 1
        elif byte == 0x22:  # '"'
            text, position = _read_quoted(data, position + 1)
            tokens.append(text)
        elif byte == 0x7B:  # "{"
            literal = _LITERAL.match(data, position)
            if literal is None:
                raise ImapParseError("malformed literal")
            start = literal.end()
            size = int(literal.group(1))
            if start + size > len(data):
                raise ImapParseError("literal shorter than announced")
            tokens.append(data[start : start + size])
            position = start + size
        else:
            atom, position = _read_atom(data, position)
            tokens.append(atom)
    if depth:
        raise ImapParseError("unbalanced parenthesis")
    return tokens, position


def _read_quoted(data: bytes, position: int) -> tuple[bytes, int]:
    text = bytearray()
    while position < len(data):
        byte = data[position]
        if byte == 0x5C:  # backslash quotes the next character
            if position + 1 >= len(data):
                break
            text.append(data[position + 1])
            position += 2
        elif byte == 0x22:
            return bytes(text), position + 1
        elif byte in (0x0D, 0x0A):
            raise ImapParseError("line break in a quoted string")
        else:
            text.append(byte)
            position += 1
    raise ImapParseError("unterminated quoted string")


def _read_atom(data: bytes, position: int) -> tuple[str, int]:
    start = position
    depth = 0
    while position < len(data):
        byte = data[position]
        if byte == 0x5B:  # "["
            depth += 1
        elif byte == 0x5D and depth:  # "]"
            depth -= 1
        elif depth == 0 and byte in _ATOM_END:
            break
        elif byte < 0x20 or byte == 0x7F:
            raise ImapParseError("control character in an atom")
        position += 1
    if depth:
        raise ImapParseError("unbalanced bracket")
    if position == start:
        raise ImapParseError("unexpected character")
    return data[start:position].decode("ascii", errors="replace"), position


def is_atom(token: Token, word: str) -> bool:
    """Whether `token` is the atom `word` (case-insensitive)."""
    return isinstance(token, str) and token.upper() == word.upper()


def astring(token: Token) -> str:
    """Return an astring argument (atom, quoted string or literal) as text.

    Raises `ImapParseError` for a list.
    """
    if isinstance(token, str):
        return token
    if isinstance(token, bytes):
        return token.decode("utf-8", errors="replace")
    raise ImapParseError("expected a string, got a list")


def astring_bytes(token: Token) -> bytes:
    """Return an astring argument as bytes (for passwords and search keys)."""
    if isinstance(token, bytes):
        return token
    if isinstance(token, str):
        return token.encode()
    raise ImapParseError("expected a string, got a list")


def flags_argument(token: Token) -> list[str]:
    """Return a flag-list argument (a list, or one flag) as text; raises `ImapParseError`."""
    items = token if isinstance(token, list) else [token]
    flags = []
    for item in items:
        if not isinstance(item, str):
            raise ImapParseError("flags are atoms")
        flags.append(item)
    return flags
