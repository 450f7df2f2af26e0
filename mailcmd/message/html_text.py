"""HTML mail rendered as the plain text a person would have written."""

import re
from html.parser import HTMLParser

# Deeper quotes are shown at this depth, so that nesting cannot multiply the text.
MAX_QUOTE_DEPTH = 16
MAX_LIST_DEPTH = 8

# Blocks that stand apart from their neighbours by a blank line.
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre", "hr", "dl"}
)
# Blocks that only start on a line of their own.
_LINES = frozenset(
    {
        "div",
        "tr",
        "li",
        "dt",
        "dd",
        "section",
        "article",
        "header",
        "footer",
        "address",
        "center",
        "figure",
        "figcaption",
        "main",
        "nav",
        "aside",
        "caption",
        "details",
        "summary",
        "form",
        "fieldset",
    }
)
_SKIPPED = frozenset(
    {"script", "style", "head", "title", "template", "noscript", "svg", "math", "iframe"}
)
_LINKS = ("http://", "https://", "mailto:", "ftp://", "tel:")


def html_to_text(html: str) -> str:
    """Render HTML as readable text; never raises.

    Paragraphs, divs, list items and `<br>` become line breaks (paragraphs a blank
    line), list items start with "- " or their number, blockquotes become "> " quoted
    lines, links keep their target as "text (url)", scripts, styles and the head are
    dropped, and entities are decoded. `<pre>` keeps its lines and spaces.
    """
    renderer = _Renderer()
    renderer.feed(defused(html))
    renderer.close()
    return renderer.text()


def defused(html: str) -> str:
    """Return `html` rewritten so that `html.parser` reads it in linear time.

    The stdlib parser (before CPython 3.13.4, gh-135462) rescans to the end of the
    document for each markup that does not close: 200 kB of `<a` cost it 50 s, of
    `<!--x>` minutes. Here, in one pass, comments, `<!...>` declarations, marked
    sections and `<?...>` are dropped as an HTML5 browser ignores them (an unclosed
    comment takes the rest of the document with it), and a `<` that does not open a
    tag closed before the next `<` is text, written `&lt;`. The rendering loses
    nothing a browser would show, except a tag whose attribute holds a raw `<`.
    """
    pieces: list[str] = []
    # Where the last of each closing text is: a search for one past it never runs,
    # so that each search scans text that the pass then leaves behind.
    last_comment_end = html.rfind("-->")
    last_close = html.rfind(">")
    position = 0
    while (start := html.find("<", position)) != -1:
        pieces.append(html[position:start])
        opener = html[start + 1 : start + 2]
        if html.startswith("<!--", start):
            end = html.find("-->", start + 4) + 3 if start + 4 <= last_comment_end else len(html)
            position = end
        elif opener in ("!", "?"):
            position = html.find(">", start) + 1 if start < last_close else len(html)
        else:
            following = html.find("<", start + 1)
            close = html.find(">", start + 1, len(html) if following == -1 else following)
            if close == -1 or not (opener.isascii() and (opener.isalpha() or opener == "/")):
                pieces.append("&lt;")
                position = start + 1
            else:
                pieces.append(html[start : close + 1])
                position = close + 1
    pieces.append(html[position:])
    return "".join(pieces)


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # Each line is its quote depth and its text; the last one is being written.
        self._lines: list[tuple[int, str]] = [(0, "")]
        self._quote = 0
        self._skipping: list[str] = []
        self._pre = 0
        self._lists: list[list[int]] = []  # per open list: [next number] or [] if bulleted
        self._links: list[tuple[str | None, list[str]]] = []

    def text(self) -> str:
        """The rendered text, without trailing spaces or runs of blank lines."""
        rendered = [
            (f"{'>' * depth} {text}" if text else ">" * depth) if depth else text
            for depth, text in ((depth, text.rstrip()) for depth, text in self._lines)
        ]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in rendered)).strip("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skipping.clear()  # the body ends a head that was never closed
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.append(tag)
            return
        if tag in _SKIPPED:
            self._skipping.append(tag)
        elif tag == "br":
            self._new_line(force=True)
        elif tag == "blockquote":
            self._paragraph()
            self._quote += 1
        elif tag in ("ul", "ol"):
            self._paragraph()
            self._lists.append([1] if tag == "ol" else [])
        elif tag == "li":
            self._new_line()
            self._write(self._bullet())
        elif tag == "a":
            # Links do not nest: as in a browser, a new one ends the one still open
            # (and the text of a thousand unclosed links is not kept a thousand times).
            self._end_link()
            self._links.append((dict(attrs).get("href"), []))
        elif tag == "pre":
            self._paragraph()
            self._pre += 1
        elif tag in ("td", "th"):
            self._write(" ")
        elif tag in _PARAGRAPHS:
            self._paragraph()
        elif tag in _LINES:
            self._new_line()

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
            return
        if tag == "blockquote":
            self._new_line()
            self._quote = max(0, self._quote - 1)
            self._paragraph()
        elif tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self._paragraph()
        elif tag == "a":
            self._end_link()
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
            self._paragraph()
        elif tag in _PARAGRAPHS:
            self._paragraph()
        elif tag in _LINES:
            self._new_line()

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._write(first, verbatim=True)
            for line in rest:
                self._new_line(force=True)
                self._write(line, verbatim=True)
            return
        text = re.sub(r"\s+", " ", data)
        for _, shown in self._links:
            shown.append(text)
        self._write(text)

    def _end_link(self) -> None:
        if self._links:
            href, shown = self._links.pop()
            self._write(_link_suffix(href, " ".join("".join(shown).split())))

    def _write(self, text: str, verbatim: bool = False) -> None:
        depth, line = self._lines[-1]
        if not line:
            depth = min(self._quote, MAX_QUOTE_DEPTH)
            if not verbatim:
                text = text.lstrip(" ")
        elif not verbatim and line.endswith(" ") and text.startswith(" "):
            text = text[1:]
        self._lines[-1] = (depth, line + text)

    def _new_line(self, force: bool = False) -> None:
        # A block boundary ends a line that has text; a <br> ends any line.
        line = self._lines[-1][1]
        if force and not line:
            self._lines[-1] = (min(self._quote, MAX_QUOTE_DEPTH), "")
        if force or line.strip():
            self._lines.append((0, ""))

    def _paragraph(self) -> None:
        self._new_line()
        if len(self._lines) < 2:
            return
        depth = min(self._quote, MAX_QUOTE_DEPTH)
        before, text_before = self._lines[-2]
        if text_before.strip():
            self._lines[-1] = (depth, "")
            self._lines.append((0, ""))
        elif before > depth:
            # Leaving a quote: the blank line that ends it belongs outside.
            self._lines[-2] = (depth, "")

    def _bullet(self) -> str:
        indent = "  " * (min(len(self._lists), MAX_LIST_DEPTH) - 1)
        if not self._lists or not self._lists[-1]:
            return f"{indent}- "
        number = self._lists[-1][0]
        self._lists[-1][0] += 1
        return f"{indent}{number}. "


def _link_suffix(href: str | None, shown: str) -> str:
    if not href or not href.strip().lower().startswith(_LINKS):
        return ""
    href = " ".join(href.split())
    target = href.removeprefix("mailto:").removeprefix("tel:")
    if target in shown or href in shown:
        return ""
    return f" ({href})" if shown else href
