"""Reply templates with Jinja2: text first, an HTML twin when there is one, strict variables."""

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

TEXT_SUFFIX = ".txt"
HTML_SUFFIX = ".html"
# A template sets its mail's subject with `{% set subject = "..." %}`.
SUBJECT_VARIABLE = "subject"


class TemplateError(Exception):
    """A template is missing or cannot be rendered; the message names it."""


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
    """

    def __init__(self, folders: Sequence[Path]) -> None:
        """Look templates up in `folders`, in order."""
        loader = jinja2.FileSystemLoader([str(folder) for folder in folders])
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

    def exists(self, name: str) -> bool:
        """Whether the text template `name` can be found."""
        try:
            self._text.get_template(name + TEXT_SUFFIX)
        except jinja2.TemplateNotFound:
            return False
        except jinja2.TemplateSyntaxError as error:
            raise TemplateError(f"template {name}: line {error.lineno}: {error.message}") from None
        return True

    def render(self, name: str, values: Mapping[str, Any]) -> Rendered:
        """Render the template `name` with `values`; raises `TemplateError` naming it."""
        try:
            # Rendering as a module exposes the template's top-level `{% set %}`s.
            module = self._text.get_template(name + TEXT_SUFFIX).make_module(dict(values))
            text = str(module)
            subject = getattr(module, SUBJECT_VARIABLE, None)
            html = None
            with contextlib.suppress(jinja2.TemplateNotFound):
                html = self._html.get_template(name + HTML_SUFFIX).render(values)
        except jinja2.TemplateNotFound as error:
            raise TemplateError(f"template {error.name} not found") from None
        except jinja2.TemplateError as error:
            raise TemplateError(f"template {name}: {error}") from None
        shown_subject = " ".join(str(subject).split()) if subject is not None else None
        return Rendered(subject=shown_subject or None, text=_tidy(text), html=html)


def _tidy(text: str) -> str:
    # `{% set subject %}` and similar lines leave blank lines at the top.
    return text.lstrip("\n").rstrip() + "\n"
