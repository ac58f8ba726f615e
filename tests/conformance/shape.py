"""The shape of a Live server conversation, compared without its content.

A server message is reduced to the set of its field paths (`serverContent.modelTurn.parts[].inlineData.data`);
streamed content (messages that carry nothing but the model's turn and transcriptions) is merged into one run
per stretch, because how many chunks a reply takes is content, not shape. What must agree between the service
and the emulator: the order of everything else (setupComplete, toolCall, generationComplete, turnComplete,
interrupted, handles, goAway, ...), the fields each element carries, and the close code and reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONTENT_FIELDS = frozenset({"modelTurn", "outputTranscription", "inputTranscription"})
IGNORED_PATHS = frozenset({
    # The emulator leaves it out on purpose: the published v1beta protos have no such field (docs/emulator.md).
    "sessionResumptionUpdate.lastConsumedClientMessageIndex",
})


@dataclass(frozen=True)
class Element:
    """One structural message, or one run of streamed content (`content=True`)."""

    paths: frozenset[str]
    content: bool = False

    def label(self) -> str:
        shown = ", ".join(sorted(self.paths))
        return f"content run {{{shown}}}" if self.content else f"{{{shown}}}"


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


def field_paths(value: Any, prefix: str = "") -> set[str]:
    """Leaf paths of a JSON value; list items share one path (`parts[]`); an empty object is a leaf."""
    if isinstance(value, dict):
        if not value:
            return {prefix} if prefix else set()
        paths: set[str] = set()
        for key, item in value.items():
            paths |= field_paths(item, f"{prefix}.{key}" if prefix else key)
        return paths
    if isinstance(value, list):
        paths = set()
        for item in value:
            paths |= field_paths(item, f"{prefix}[]")
        return paths or {f"{prefix}[]"}
    return {prefix}


def is_content(message: dict[str, Any]) -> bool:
    """Only streamed content: a `serverContent` holding nothing but the turn's parts and transcriptions."""
    server_content = message.get("serverContent")
    return (set(message) == {"serverContent"} and isinstance(server_content, dict) and bool(server_content)
            and set(server_content) <= CONTENT_FIELDS)


def shape(messages: list[dict[str, Any]]) -> list[Element]:
    elements: list[Element] = []
    for message in messages:
        paths = frozenset(field_paths(message) - IGNORED_PATHS)
        if is_content(message) and elements and elements[-1].content:
            elements[-1] = Element(elements[-1].paths | paths, content=True)
        else:
            elements.append(Element(paths, content=is_content(message)))
    return elements


def differences(service: list[Element], emulator: list[Element], *, exact: bool) -> list[str]:
    """What differs, in words; empty when the shapes agree. Without `exact` (a trace quoted from public
    sources, which may abridge), the emulator may carry fields the quote left out, never lack one."""
    problems: list[str] = []
    for index in range(max(len(service), len(emulator))):
        want = service[index] if index < len(service) else None
        got = emulator[index] if index < len(emulator) else None
        if want is None or got is None:
            problems.append(f"message {index + 1}: service {_show(want)}, emulator {_show(got)}")
            break
        if want.content != got.content:
            problems.append(f"message {index + 1}: service {want.label()}, emulator {got.label()}")
            break
        missing = sorted(want.paths - got.paths)
        extra = sorted(got.paths - want.paths) if exact else []
        if missing or extra:
            problems.append(f"message {index + 1} ({want.label()}): emulator lacks {missing}, adds {extra}")
    return problems


def quoted_differences(service: list[Element], emulator: list[Element]) -> list[str]:
    """For a trace quoted from public sources, which may leave messages and fields out but never reorders:
    each quoted element must appear in the emulator's answers, in order, with at least the quoted fields."""
    position = 0
    for index, want in enumerate(service):
        while position < len(emulator) and not _covers(emulator[position], want):
            position += 1
        if position == len(emulator):
            return [f"quoted message {index + 1} ({want.label()}) not found, in order, among the emulator's "
                    f"{[element.label() for element in emulator]}"]
        position += 1
    return []


def _covers(got: Element, want: Element) -> bool:
    return got.content == want.content and want.paths <= got.paths


def close_differences(service: Close | None, emulator: Close | None) -> list[str]:
    if service == emulator:
        return []
    return [f"close: service {service}, emulator {emulator}"]


def _show(element: Element | None) -> str:
    return element.label() if element is not None else "nothing"
