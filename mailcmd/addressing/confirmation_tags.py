"""The tags of confirmation addresses (`tasks+ok-17.KEY@`): a namespace mailcmd keeps.

An app's tags never start with `ok-`, so that a reply address an app hands out can
never be taken for a confirmation, whatever the app puts in its tags.
"""

import re

PREFIX = "ok-"
# Up to 18 digits: any id a 64-bit column holds, and no number the database cannot.
_CONFIRMATION = re.compile(rf"{PREFIX}([1-9][0-9]{{0,17}})")


def confirmation_tag(confirmation_id: int) -> str:
    """The tag of the address that confirms `confirmation_id`."""
    return f"{PREFIX}{confirmation_id}"


def confirmation_id(tag: str | None) -> int | None:
    """The confirmation a plain tag names, or None for an app's tag."""
    found = _CONFIRMATION.fullmatch(tag or "")
    return int(found.group(1)) if found else None


def is_reserved(tag: str) -> bool:
    """Whether `tag` is in mailcmd's namespace, where an app's tags may not be."""
    return tag.lower().startswith(PREFIX)
