"""`{name}` placeholders of HTTP tool templates: one grammar, read by the validator and by the tool runner.

`{name}` (letters, digits and `_`, not starting with a digit) stands for the argument `name`; `{{` and `}}`
are a literal `{` and `}`, as in Python's `str.format`. Any other brace is an error. The validator and the
runtime parse with this module alone, so a template that validates is filled exactly as it was checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Placeholder", "TemplateError", "names", "parse", "render", "sole_placeholder"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_HINT = "a placeholder is `{name}` (letters, digits, `_`); write `{{` and `}}` for a literal brace"


class TemplateError(ValueError):
    """A template that is not literal text and `{name}` placeholders; `offset` is where in it."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.hint = _HINT
        self.offset = offset


@dataclass(frozen=True)
class Placeholder:
    """`{name}` in a template, `offset` characters from its start."""

    name: str
    offset: int


Segment = str | Placeholder


def parse(template: str) -> tuple[Segment, ...]:
    """Literal text (braces unescaped) and placeholders, in order; raises `TemplateError`."""
    segments: list[Segment] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(template):
        literal.append(template[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        name = match.group(1)
        if name is None:
            side = "an opening" if token == "{" else "a closing"
            raise TemplateError(f"{side} `{token}` without its pair", match.start())
        if not _NAME.fullmatch(name):
            raise TemplateError(f"`{token}` is not a placeholder", match.start())
        if any(literal):
            segments.append("".join(literal))
        literal = []
        segments.append(Placeholder(name, match.start()))
    literal.append(template[position:])
    if any(literal):
        segments.append("".join(literal))
    return tuple(segments)


def names(template: str) -> Iterator[Placeholder]:
    """The placeholders of a template; raises `TemplateError`."""
    return (segment for segment in parse(template) if isinstance(segment, Placeholder))


def render(template: str, value: Callable[[str], str]) -> str:
    """The template with each placeholder replaced by `value(name)`; raises `TemplateError`."""
    return "".join(segment if isinstance(segment, str) else value(segment.name) for segment in parse(template))


def sole_placeholder(template: str) -> str | None:
    """The name when the whole template is one placeholder (`"{minutes}"`), else None."""
    try:
        segments = parse(template)
    except TemplateError:
        return None
    if len(segments) == 1 and isinstance(segments[0], Placeholder):
        return segments[0].name
    return None


def escape(text: str) -> str:
    """`text` as a template that renders to itself: each brace doubled (a secret's value put into a template)."""
    return text.replace("{", "{{").replace("}", "}}")

