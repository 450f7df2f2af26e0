"""Reply templates with Jinja2: text first, an HTML twin when there is one, strict variables."""

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from mailcmd.app.actions import ActionLinks
from mailcmd.app.subject_lines import shorten
from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError

TEXT_SUFFIX = ".txt"
HTML_SUFFIX = ".html"
# A template sets its mail's subject with `{% set subject = "..." %}`.
SUBJECT_VARIABLE = "subject"
# The template function that writes an action link (see `Renderer.render`).
ACTION_FUNCTION = "action"
# The filter that cuts text at a word boundary with `…`: `{{ message | shorten(60) }}`.
SHORTEN_FILTER = "shorten"


class TemplateError(MailcmdError):
    """A template is missing or cannot be rendered; the message names it."""

    exit_code = EXIT_BAD_SETTINGS


@dataclass(frozen=True)
class Rendered:
    """A rendered mail body: the subject if the template sets one, text, and optional HTML."""

    subject: str | None
    text: str
    html: str | None


class Renderer:
    """Finds templates in the app's folders first, then the bundled one, and renders them.

    A template `tasks/added` is the file `tasks/added.txt` (required) with an optional
    `tasks/added.html` beside it; `{% set subject = ... %}` in the text template sets
    the subject. Undefined variables are errors, never blanks. Only HTML is autoescaped.
    `text | shorten(60)` cuts text at a word boundary with `…`, as subjects made from
    what a person wrote should be.
    """

    def __init__(self, folders: Sequence[Path]) -> None:
        """Look templates up in `folders`, in order."""
        loader = jinja2.FileSystemLoader([str(folder) for folder in folders])
        self._loader = loader
        # Text mail is not HTML: escaping it would garble every '&' and '<' a person
        # typed. Only the HTML twin is autoescaped.
        self._text = jinja2.Environment(
            loader=loader,
            autoescape=False,  # noqa: S701
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._html = jinja2.Environment(
            loader=loader,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        for environment in (self._text, self._html):
            environment.filters[SHORTEN_FILTER] = shorten
        # Text templates without an HTML twin: Jinja2 remembers no miss, and looking
        # through every folder again for each mail cost more than rendering it. A twin
        # added while mailcmd runs is used from its next start.
        self._without_html: set[str] = set()

    def exists(self, name: str) -> bool:
        """Whether the text template `name` can be found."""
        try:
            self._text.get_template(name + TEXT_SUFFIX)
        except jinja2.TemplateNotFound:
            return False
        except jinja2.TemplateSyntaxError as error:
            raise TemplateError(f"template {name}: line {error.lineno}: {error.message}") from None
        return True

    def fingerprint(self, name: str) -> str:
        """A digest of the sources of template `name` (its text and any HTML twin, and
        nothing they include): it changes when either file is edited."""
        digest = hashlib.sha256()
        for suffix in (TEXT_SUFFIX, HTML_SUFFIX):
            try:
                source, _, _ = self._loader.get_source(self._text, name + suffix)
            except jinja2.TemplateNotFound:
                source = ""
            digest.update(source.encode() + b"\0")
        return digest.hexdigest()

    def render(
        self, name: str, values: Mapping[str, Any], links: ActionLinks | None = None
    ) -> Rendered:
        """Render the template `name` with `values`; raises `TemplateError` naming it.

        With `links`, the template may call `action(verb, *arguments, label=...)`: a
        `mailto:` link that sends that command to the mail's reply address, as the
        line `Label: mailto:...` in text (clients make it clickable) and as a link
        in HTML (unless `values` has an `action` of its own).
        """
        text_values = dict(values)
        html_values = dict(values)
        if links is not None:
            # A value of the same name wins: a template that had one keeps its meaning.
            text_values.setdefault(ACTION_FUNCTION, _text_action(links))
            html_values.setdefault(ACTION_FUNCTION, _html_action(links))
        try:
            # Rendering as a module exposes the template's top-level `{% set %}`s.
            module = self._text.get_template(name + TEXT_SUFFIX).make_module(text_values)
            text = str(module)
            subject = getattr(module, SUBJECT_VARIABLE, None)
            html = None
            if name not in self._without_html:
                try:
                    html = self._html.get_template(name + HTML_SUFFIX).render(html_values)
                except jinja2.TemplateNotFound as missing:
                    if missing.name != name + HTML_SUFFIX:
                        raise  # one the twin includes: a mistake to report
                    self._without_html.add(name)
        except jinja2.TemplateNotFound as error:
            raise TemplateError(f"template {error.name} not found") from None
        except jinja2.TemplateError as error:
            raise TemplateError(f"template {name}: {error}") from None
        shown_subject = " ".join(str(subject).split()) if subject is not None else None
        return Rendered(subject=shown_subject or None, text=_tidy(text), html=html)


def _text_action(links: ActionLinks) -> Callable[..., str]:
    def action(verb: str, *arguments: object, label: str | None = None) -> str:
        return f"{label or verb}: {links.mailto(verb, *arguments)}"

    return action


def _html_action(links: ActionLinks) -> Callable[..., Markup]:
    def action(verb: str, *arguments: object, label: str | None = None) -> Markup:
        uri = links.mailto(verb, *arguments)
        return Markup('<a href="{}" style="{}">{}</a>').format(uri, _BUTTON_STYLE, label or verb)

    return action


# A link that looks like a button in clients that show HTML, and stays a link in
# those that strip styles.
_BUTTON_STYLE = (
    "display:inline-block;padding:4px 12px;margin:2px;border:1px solid #888;"
    "border-radius:4px;text-decoration:none"
)


def _tidy(text: str) -> str:
    # `{% set subject %}` and similar lines leave blank lines at the top.
    return text.lstrip("\n").rstrip() + "\n"
