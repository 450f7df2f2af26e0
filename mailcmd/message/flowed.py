"""Text sent as format=flowed (RFC 3676), as Thunderbird and Apple Mail send it."""

SIGNATURE_SEPARATOR = "-- "


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
