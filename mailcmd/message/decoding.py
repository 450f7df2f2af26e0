"""Bytes and stray characters to clean text: declared charsets, guesses, repairs."""

import re

# Labels that promise nothing about 8-bit data. Mail declared us-ascii (or nothing)
# that holds 8-bit bytes is nearly always UTF-8, else a Windows code page.
_UNDECLARED = frozenset({"", "us-ascii", "ascii", "us_ascii", "unknown-8bit", "x-unknown"})

# Senders label text with a charset whose superset they really used (what browsers
# do too, after the WHATWG Encoding Standard): decoding with the superset loses nothing.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932",
}

_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 and C1 controls except tab and line feed, and the bidirectional overrides that
# make text display in another order than it is stored.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def guess_text(data: bytes) -> str:
    """Decode bytes of an unknown charset: UTF-8 if they are, else Windows-1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode `data` declared as `charset`; never raises.

    Returns the text and, when the charset could not be used, a note saying so.
    Bytes that are invalid in the charset become U+FFFD.
    """
    name = (charset or "").strip().lower()
    if name in _UNDECLARED:
        return guess_text(data), None
    try:
        return data.decode(_SUPERSETS.get(name, name), errors="replace"), None
    except (LookupError, ValueError, TypeError):
        # Not a codec Python knows, or not a text codec (base64, rot13, ...).
        note = f"unknown charset {name[:40]!r}, read as UTF-8"
        return data.decode("utf-8", errors="replace"), note


def repair_surrogates(text: str) -> str:
    """Turn the stand-ins the email package uses for undecodable bytes back into text.

    A header or body read with 'surrogateescape' holds U+DC80..U+DCFF for raw 8-bit
    bytes; those are decoded as UTF-8 or Windows-1252, so that no lone surrogate
    ever reaches a database, a log or a template.
    """
    if not _SURROGATES.search(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return guess_text(raw)


def printable(text: str) -> str:
    """Drop control characters (keeping tab and line feed) and bidirectional overrides."""
    return _CONTROLS.sub("", text)


def one_line(text: str) -> str:
    """A header value as one line: surrogates repaired, whitespace runs made one space.

    Folding and encoded CR LF never survive, so a decoded Subject cannot inject a
    header into a reply.
    """
    return printable(" ".join(repair_surrogates(text).split()))


def clean_text(text: str) -> str:
    """Body text with LF line ends, no trailing whitespace, no blank lines at either end."""
    text = printable(text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff"))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
