"""Scripted model replies: which words the user "said" and what the model answers to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runtime.errors import Location, RuntimeConfigError


@dataclass(frozen=True)
class Say:
    """The model speaks (audio) or writes (text) these words."""

    text: str


@dataclass(frozen=True)
class CallTool:
    """The model calls a function; blocking tools wait for the toolResponse."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SayToolResult:
    """The model speaks the latest result of this tool."""

    name: str


@dataclass(frozen=True)
class Search:
    """The model grounds its answer in Google Search (`google_search` declared): grounding metadata follows."""

    query: str
    sources: tuple[tuple[str, str], ...] = ()
    """(title, uri) of each web source."""


@dataclass(frozen=True)
class RunCode:
    """The model writes code and runs it on Google's side (`code_execution` declared): the code, then its result."""

    code: str
    output: str
    ok: bool = True


Step = Say | CallTool | SayToolResult | Search | RunCode


@dataclass(frozen=True)
class Rule:
    """First rule whose `text` is a case-insensitive substring of the user's words wins; an `image` rule
    (`when: {image: true}`) answers the first camera frame after each user turn instead."""

    text: str
    steps: tuple[Step, ...]
    image: bool = False


@dataclass(frozen=True)
class Scenario:
    speech_transcripts: tuple[str, ...] = ()
    """Given, in order, to detected speech turns."""
    rules: tuple[Rule, ...] = ()

    def transcript(self, speech_turn: int) -> str:
        """What the user said in their n-th speech turn (0-based); empty once the list runs out."""
        if speech_turn < len(self.speech_transcripts):
            return self.speech_transcripts[speech_turn]
        return ""

    def reply(self, user_text: str, spoken: bool) -> tuple[Step, ...]:
        lowered = user_text.lower()
        for rule in self.rules:
            if not rule.image and rule.text.lower() in lowered:
                return rule.steps
        if spoken:
            return (Say("I heard you."),)
        return (Say(f"You said: {user_text}"),)


    def on_image(self) -> tuple[Step, ...]:
        """The steps of the first `image` rule; none when no rule answers frames."""
        return next((rule.steps for rule in self.rules if rule.image), ())


def load_scenario(path: Path) -> Scenario:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise RuntimeConfigError(Location(str(path)), f"cannot read scenario: {error}") from None
    return parse_scenario(document, str(path))


def parse_scenario(document: Any, where: str = "scenario") -> Scenario:
    if not isinstance(document, dict) or set(document) - {"speech_transcripts", "rules"}:
        raise RuntimeConfigError(Location(where), "a scenario has only `speech_transcripts` and `rules`")
    transcripts = document.get("speech_transcripts") or []
    if not isinstance(transcripts, list):
        raise RuntimeConfigError(Location(where), "`speech_transcripts` must be a list of strings")
    rules = document.get("rules") or []
    if not isinstance(rules, list):
        raise RuntimeConfigError(Location(where), "`rules` must be a list")
    return Scenario(
        speech_transcripts=tuple(str(text) for text in transcripts),
        rules=tuple(_rule(rule, f"{where}: rules[{index}]") for index, rule in enumerate(rules)),
    )


def _rule(rule: Any, where: str) -> Rule:
    when = rule.get("when") if isinstance(rule, dict) else None
    if not isinstance(when, dict) or ("text" not in when and when.get("image") is not True):
        raise RuntimeConfigError(Location(where), "a rule needs `when: {text: ...}` or `when: {image: true}`",
                                 "and a `then:` list of steps")
    steps = rule.get("then") or []
    if not isinstance(steps, list):
        steps = [steps]
    return Rule(text=str(when.get("text", "")), steps=tuple(_step(step, f"{where}.then") for step in steps),
                image="text" not in when)


def _step(step: Any, where: str) -> Step:
    if isinstance(step, dict) and len(step) == 1:
        ((kind, value),) = step.items()
        if kind == "say":
            return Say(str(value))
        if kind == "say_tool_result":
            return SayToolResult(str(value))
        if kind == "tool_call" and isinstance(value, dict) and "name" in value:
            args = value.get("args") or {}
            if isinstance(args, dict):
                return CallTool(str(value["name"]), dict(args))
        if kind == "search" and isinstance(value, dict) and "query" in value:
            sources = tuple((str(s.get("title", "")), str(s.get("uri", ""))) for s in value.get("sources") or [])
            return Search(str(value["query"]), sources)
        if kind == "run_code" and isinstance(value, dict) and "code" in value:
            return RunCode(str(value["code"]), str(value.get("output", "")), bool(value.get("ok", True)))
    hint = ("use {say: TEXT}, {tool_call: {name, args}}, {say_tool_result: NAME}, "
            "{search: {query, sources: [{title, uri}]}} or {run_code: {code, output, ok}}")
    raise RuntimeConfigError(Location(where), f"invalid step {step!r}", hint)
