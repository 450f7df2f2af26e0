"""Text sent as format=flowed (RFC 3676), as Thunderbird and Apple Mail send it."""

SIGNATURE_SEPARATOR = "-- "
# RFC 3676 (section 4.2): lines SHOULD be no longer than 78 characters.
FLOWED_WIDTH = 78
# An indent that leaves less room than this is not repeated: the line stays long.
_LEAST_ROOM = 20


def decode_flowed(text: str, *, delsp: bool = False) -> str:
    """Unwrap format=flowed text into one line per paragraph (RFC 3676, section 4).

    A line ending in a space is a soft break: it is joined with the next line of the
    same quote depth, and a line of another depth ends the paragraph. With `delsp`
    (the DelSp=yes parameter) the space before a soft break is deleted as well. One
    space of space-stuffing is removed from every line. The signature separator
    "-- " is never a soft break. Quoted paragraphs come back as ">" * depth + " " +
    text. Line ends may be CR LF or LF; the result uses LF.
    """
    output: list[str] = []
    paragraph: list[str] = []
    paragraph_depth = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        is_separator = content == SIGNATURE_SEPARATOR
        if paragraph and (depth != paragraph_depth or is_separator):
            # The sender's client flowed into a line it should not have: end it here.
            output.append(_quoted("".join(paragraph), paragraph_depth))
            paragraph = []
        if content.endswith(" ") and not is_separator:
            paragraph.append(content[:-1] if delsp else content)
            paragraph_depth = depth
            continue
        paragraph.append(content)
        output.append(_quoted("".join(paragraph), depth))
        paragraph = []
    if paragraph:
        output.append(_quoted("".join(paragraph), paragraph_depth))
    return "\n".join(output)


def _quoted(text: str, depth: int) -> str:
    return f"{'>' * depth} {text}" if depth else text


def encode_flowed(text: str) -> str:
    """Write `text` (lines ending in LF) as format=flowed with DelSp=no (RFC 3676).

    Every line comes out at most 78 characters where it has spaces to break at. A
    long line of prose is cut after a space (a soft break: flowed-aware clients
    join it back and wrap it to their window; others show it as sent). Leading
    ">" marks are a quote: each piece of a quoted line keeps the same depth. An
    indented line (one starting with spaces) is cut at spaces into hard lines
    that each repeat its indent, since RFC 3676 has no way to mark an indent and
    a client would otherwise flow the rest of it to column 0. Trailing spaces are
    dropped, so a line only of spaces is a blank line and no line ends in a soft
    break by accident; the signature separator "-- " is kept as it is. Lines
    starting with a space or "From " are space-stuffed. `decode_flowed` gives back
    every line, with the pieces of a hard-cut indented line as lines of their own.
    """
    lines = text.split("\n")
    for index, line in enumerate(lines):
        # The common case, checked first: a line that needs nothing stays itself.
        fits = len(line) <= FLOWED_WIDTH and line[-1:] != " " and line[:1] != " "
        if not fits or line.startswith("From "):
            lines[index] = _encoded_line(line)
    return "\n".join(lines)


def _encoded_line(line: str) -> str:
    if line == SIGNATURE_SEPARATOR:
        return line
    line = line.rstrip(" ")
    depth = len(line) - len(line.lstrip(">"))
    content = line[depth:]
    if depth and not content:
        return line
    if depth:
        # The quote's own space after its marks, as the decoder reads it.
        content = content.removeprefix(" ")
        lead = ">" * depth + " "
    else:
        lead = ""
    body = content.lstrip(" ")
    indent = content[: len(content) - len(body)]
    if indent:
        room = FLOWED_WIDTH - len(lead) - 1 - len(indent)
        if room < _LEAST_ROOM:
            return _stuffed(lead, content)
        return "\n".join(_stuffed(lead, indent + piece.rstrip(" ")) for piece in _cut(body, room))
    room = FLOWED_WIDTH - len(lead) - 1
    return "\n".join(_stuffed(lead, piece) for piece in _cut(content, room))


def _cut(text: str, room: int) -> list[str]:
    """`text` cut after spaces into pieces of at most `room` characters where it can be.

    Each piece but the last ends in the space it was cut after, so joining them gives
    `text` back; a word longer than `room` is a piece of its own, longer than `room`.
    """
    pieces = []
    while len(text) > room:
        cut = text.rfind(" ", 1, room)
        if cut < 0:
            cut = text.find(" ", room)
            if cut < 0:
                break
        pieces.append(text[: cut + 1])
        text = text[cut + 1 :]
    pieces.append(text)
    return pieces


def _stuffed(lead: str, content: str) -> str:
    # Space-stuffing (RFC 3676, section 4.4): a reader takes one space off.
    if not lead and content.startswith((" ", "From ", ">")):
        return " " + content
    return lead + content
