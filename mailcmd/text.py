"""Mail text: format=flowed (RFC 3676), HTML to text, and the sender's new text of a reply.

Reply parsers on PyPI were considered: email-reply-parser and talon are no longer
maintained, and mail-parser-reply carries its own attribution patterns much like
these; a page of rules we can test is the smaller dependency.
"""

import re
from html.parser import HTMLParser

SIGNATURE_SEPARATORS = frozenset({"--", "-- "})

# Lines that introduce the quoted message, in the clients and languages seen most.
_ATTRIBUTION = re.compile(
    r"""^(?:
        on\s.+\swrote:                          # Gmail, Apple Mail, Thunderbird
      | am\s.+\sschrieb\s.+:                    # German
      | le\s.+\sa\s[ée]crit\s?:                 # French
      | el\s.+\sescribi[óo]:                    # Spanish
      | op\s.+\sschreef\s.+:                    # Dutch
      | den\s.+\sskrev\s.+:                     # Nordic
      | il\s.+\sha\sscritto:                    # Italian
      | -{2,}\s*original\s+message\s*-{2,}      # Outlook
      | -{2,}\s*(?:urspr[üu]ngliche\s+nachricht|message\s+d'origine)\s*-{2,}
      | _{20,}                                   # Outlook's rule above the headers
      | -{2,}\s*forwarded\s+message\s*-{2,}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Outlook quotes without '>' under a header block that starts with From:.
_HEADER_BLOCK = re.compile(r"^(?:from|von|de|van)\s*:\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^(?:sent|date|gesendet|envoy[ée]|verzonden|to|an|subject)\s*:", re.I)
_TRAILERS = re.compile(
    r"^(?:sent from my \w+.*|get outlook for .+|sent from (?:mail|yahoo mail) for .+"
    r"|von meinem \w+ gesendet|envoy[ée] de mon \w+)$",
    re.IGNORECASE,
)


def unflow(text: str, *, delsp: bool = False) -> str:
    """Decode format=flowed text: soft line breaks joined, space-stuffing removed."""
    lines_out: list[str] = []
    paragraph: list[str] = []
    paragraph_depth = 0
    for raw_line in text.replace("\r\n", "\n").split("\n"):
        depth = len(raw_line) - len(raw_line.lstrip(">"))
        line = raw_line[depth:]
        if line.startswith(" "):
            line = line[1:]  # space-stuffing (and the space after quote marks)
        flowed = line.endswith(" ") and line not in SIGNATURE_SEPARATORS
        if paragraph and depth != paragraph_depth:
            lines_out.append(_quoted("".join(paragraph), paragraph_depth))
            paragraph = []
        paragraph_depth = depth
        if flowed:
            paragraph.append(line[:-1] if delsp else line)
            continue
        paragraph.append(line)
        lines_out.append(_quoted("".join(paragraph), depth))
        paragraph = []
    if paragraph:
        lines_out.append(_quoted("".join(paragraph), paragraph_depth))
    return "\n".join(lines_out)


def new_text(text: str) -> str:
    """Return what the sender wrote: quoted text, attributions and the signature dropped.

    The rule: the text ends at the signature separator, at an attribution line
    ("On ... wrote:", and its translations), or at an Outlook header block; above
    that, quoted ('>') lines are dropped and everything else is kept, so answers
    written between quotes survive. Phone-client trailers at the end are dropped.
    """
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if line.rstrip("\r") in SIGNATURE_SEPARATORS or stripped in SIGNATURE_SEPARATORS:
            break
        if _starts_quote(lines, index):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    while kept and (not kept[-1].strip() or _TRAILERS.match(kept[-1].strip())):
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept))


def _starts_quote(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if _ATTRIBUTION.match(line):
        return True
    following = lines[index + 1].strip() if index + 1 < len(lines) else ""
    # Gmail wraps a long attribution over two lines.
    if following and _ATTRIBUTION.match(f"{line} {following}") and not line.startswith(">"):
        return True
    return bool(_HEADER_BLOCK.match(line) and _HEADER_NEXT.match(following))


def _quoted(text: str, depth: int) -> str:
    return ("> " * depth + text) if depth else text


class _TextExtractor(HTMLParser):
    # Paragraph-like blocks are set apart by a blank line; these only by a line break.
    _LINES = frozenset({"br", "li", "tr"})
    _BLOCKS = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "table",
            "ul",
            "ol",
            "pre",
            "hr",
            "section",
            "article",
            "header",
            "footer",
        }
    )
    _SKIPPED = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.depth = 0
        self.skipping = 0
        self.links: list[str | None] = []
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self.skipping += 1
        elif tag == "blockquote":
            self._break(paragraph=True)
            self.depth += 1
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
            self.link_text.append("")
        elif tag == "li":
            self._break()
            self._write("- ")
        elif tag in self._BLOCKS:
            self._break(paragraph=tag not in self._LINES)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "blockquote":
            self._break(paragraph=True)
            self.depth = max(0, self.depth - 1)
        elif tag == "a" and self.links:
            href, shown = self.links.pop(), self.link_text.pop()
            if href and href.startswith(("http:", "https:", "mailto:")) and href not in shown:
                self._write(f" ({href})")
        elif tag in self._BLOCKS:
            self._break(paragraph=tag not in self._LINES)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = " ".join(data.split())
        if data[:1].isspace() and self.lines[-1] and not self.lines[-1].endswith(" "):
            text = " " + text
        if data[-1:].isspace() and text:
            text += " "
        if self.link_text:
            self.link_text[-1] += text
        self._write(text)

    def _write(self, text: str) -> None:
        if not self.lines[-1] and self.depth:
            self.lines[-1] = "> " * self.depth
        self.lines[-1] += text

    def _break(self, paragraph: bool = False) -> None:
        # Breaks never stack: a run of closing and opening tags makes one break.
        if self.lines[-1].strip(" >"):
            self.lines.append("")
        if paragraph and len(self.lines) > 1 and self.lines[-2].strip(" >"):
            self.lines.append("")


def html_to_text(html: str) -> str:
    """Render HTML as readable text: blocks on their own lines, quotes as '> ' lines."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [line.rstrip() for line in extractor.lines]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
