"""Header fields of a message's raw bytes, dropped whole without parsing the message."""

from collections.abc import Callable

HEADER_END = b"\r\n\r\n"


def drop_fields(raw: bytes, drop: Callable[[bytes], bool]) -> bytes:
    """Return `raw` without the header fields whose first line `drop` is true of.

    A field's continuation lines go with it; the body and the other fields are kept
    byte for byte. Without an empty line, all of `raw` is taken as the header.
    """
    head, separator, body = raw.partition(HEADER_END)
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):
            dropping = drop(line)
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + separator + body
