"""Header values in their commonest, plainest shape, read without the header registry.

`policy.default`'s header registry builds a parse tree for every value it reads,
which costs more than all the rest of reading a short mail. Most values need none
of it: a Subject in printable ASCII without encoded-words, a From of `addr@domain`
or `Name <addr@domain>` in plain atoms. These functions read exactly those shapes,
to exactly what the registry would make of them (a test compares the two on random
and hostile values), and answer None for anything else, which then goes to the
registry.
"""

import re

# Printable ASCII, space and tab; no "=?", which could start an encoded-word.
_PLAIN_TEXT = re.compile(r"(?:[\t\x20-\x3c\x3e-\x7e]|=(?!\?))*")
# RFC 5322 atext; a dot-atom is runs of it joined by single dots.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}(?:\.{_ATEXT})*"
_ADDR_SPEC = rf"{_DOT_ATOM}@{_DOT_ATOM}"
_MAILBOX = re.compile(
    rf"""[ \t]*(?:
        (?P<bare>{_ADDR_SPEC})
      | (?P<name>{_ATEXT}(?:[ \t]+{_ATEXT})*)?[ \t]*<(?P<angled>{_ADDR_SPEC})>
    )[ \t]*""",
    re.VERBOSE,
)


def plain_text(value: str) -> str | None:
    """`value` as the registry decodes an unstructured field, when it needs no decoding.

    None unless `value` is printable ASCII (with tabs) holding no encoded-word: the
    registry returns such a value unchanged and finds no defect in it.
    """
    return value if _PLAIN_TEXT.fullmatch(value) else None


def plain_mailbox(value: str) -> tuple[str, str] | None:
    """The display name and addr-spec of a From value holding one plain mailbox.

    Plain means `local@domain` or `Name Words <local@domain>` in atoms only, with no
    encoded-word, quoted string, comment or group; None for anything else. The name's
    words come joined by single spaces, as the registry joins them.
    """
    if "=?" in value:
        return None
    found = _MAILBOX.fullmatch(value)
    if found is None:
        return None
    if found["bare"] is not None:
        return "", found["bare"]
    return " ".join((found["name"] or "").split()), found["angled"]
