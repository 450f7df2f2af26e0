"""Mailbox names as clients write them: INBOX in any case, and what a new name may be.

Names travel in modified UTF-7 (RFC 3501 section 5.1.3) and are stored as sent, so a
name is valid only in its one canonical spelling: decoding it and encoding the result
again gives the same text, as Dovecot checks.
"""

import base64
import binascii

from mailcmd.imap.mailstore import INBOX

DELIMITER = "/"
# The longest name the folders table holds.
MAX_NAME_LENGTH = 255
# LIST's wildcards: a folder named with one could never be listed alone.
WILDCARDS = frozenset("*%")


def canonical_name(name: str) -> str:
    """Return a mailbox name as stored: INBOX in any case is INBOX, also as a parent.

    RFC 3501 makes INBOX case-insensitive; its children (`inbox/child`) are found
    under the one INBOX too, so the first level is canonicalised, never the rest.
    """
    first, separator, rest = name.partition(DELIMITER)
    if first.upper() == INBOX:
        return INBOX + separator + rest
    return name


def name_problem(name: str) -> str | None:
    """Return why `name` cannot name a new folder, or None if it can.

    A name is refused when it is empty or too long, has an empty level (`a//b`),
    a wildcard, a control character or 8-bit text, or is not canonical modified UTF-7.
    """
    if not name or len(name) > MAX_NAME_LENGTH:
        return "mailbox names are 1 to 255 characters"
    if any(not level for level in name.split(DELIMITER)):
        return "a mailbox name has no empty levels"
    if any(char in WILDCARDS for char in name):
        return "mailbox names cannot contain * or %"
    if any(not 0x20 <= ord(char) < 0x7F for char in name):
        return "mailbox names are printable modified UTF-7"
    decoded = decode_modified_utf7(name)
    if decoded is None or encode_modified_utf7(decoded) != name:
        return "not a valid modified UTF-7 name"
    if not decoded.isprintable():
        return "mailbox names are printable modified UTF-7"
    return None


def decode_modified_utf7(name: str) -> str | None:
    """Return the text a modified UTF-7 name stands for, or None if it is malformed."""
    text: list[str] = []
    position = 0
    while position < len(name):
        shift = name.find("&", position)
        if shift < 0:
            text.append(name[position:])
            break
        text.append(name[position:shift])
        end = name.find("-", shift + 1)
        if end < 0:
            return None
        encoded = name[shift + 1 : end]
        if not encoded:
            text.append("&")
        else:
            decoded = _decode_shifted(encoded)
            if decoded is None:
                return None
            text.append(decoded)
        position = end + 1
    return "".join(text)


def encode_modified_utf7(text: str) -> str:
    """Return `text` in modified UTF-7: printable ASCII as itself, `&` as `&-`, rest shifted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be")
            encoded = base64.b64encode(utf16).decode("ascii").rstrip("=").replace("/", ",")
            out.append("&" + encoded + "-")
            pending.clear()

    for char in text:
        if 0x20 <= ord(char) < 0x7F:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _decode_shifted(encoded: str) -> str | None:
    padded = encoded.replace(",", "/") + "=" * (-len(encoded) % 4)
    try:
        utf16 = base64.b64decode(padded, validate=True)
        return utf16.decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError):
        return None
