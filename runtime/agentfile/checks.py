"""Semantic checks of an `AgentSpec` that a JSON Schema cannot express, each located in the agent file.

Model limits come from `runtime.agentfile.catalogue`; Python tool entry points are imported
(`runtime.agentfile.entrypoints`) so that a typo fails at `runtime validate`, not on the first call of a tool in
someone's kitchen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from runtime.agentfile import catalogue
from runtime.agentfile.catalogue_file import CatalogueErrors
from runtime.agentfile.entrypoints import EntryPointError, derive_parameters, resolve_entry_point
from runtime.agentfile.http_checks import check_http
from runtime.agentfile.mcp_checks import check_builtin_tools, check_mcp_servers
from runtime.agentfile.plain_schema import plainly_valid
from runtime.agentfile.resolved_tools import ResolvedTool, declared, resolve_tool
from runtime.agentfile.spec import AgentSpec, Tool
from runtime.agentfile.video_checks import check_video
from runtime.errors import Location, RuntimeConfigError

__all__ = ["CheckOutcome", "Locator", "check_agent", "derive_parameters", "resolve_entry_point"]

KeyPath = tuple[str | int, ...]


class Locator(Protocol):
    """Where keys and values are written in the agent file (`runtime.agentfile.yamldoc.Document` is one)."""

    def locate(self, loc: tuple[Any, ...], *, key: bool = False) -> Location: ...

    def has(self, loc: KeyPath) -> bool: ...


@dataclass
class CheckOutcome:
    """Findings (errors and warnings) and the tools resolved on the way (`runtime.agentfile.resolved_tools`)."""

    findings: list[RuntimeConfigError] = field(default_factory=list)
    tools: dict[int, ResolvedTool] = field(default_factory=dict)
    """Tool index → the tool resolved; a tool that failed to resolve is missing (and has an error)."""


@dataclass
class _Context:
    spec: AgentSpec
    where: Locator
    base_dir: Path
    strict: bool
    outcome: CheckOutcome
    model: catalogue.ModelInfo | None = None

    def error(self, loc: KeyPath, message: str, hint: str = "", *, key: bool = False) -> None:
        location = self.where.locate(loc, key=key)
        self.outcome.findings.append(RuntimeConfigError(location, message, hint))

    def warn(self, loc: KeyPath, message: str, hint: str = "", *, key: bool = False) -> None:
        location = self.where.locate(loc, key=key)
        self.outcome.findings.append(RuntimeConfigError(location, message, hint, "warning"))

    def has(self, loc: KeyPath) -> bool:
        return self.where.has(loc)

    def notice(self, loc: KeyPath, message: str, hint: str = "") -> None:
        """What will happen, not a mistake: shown by `runtime validate`, never fails it (not even --strict)."""
        self.outcome.findings.append(RuntimeConfigError(self.where.locate(loc), message, hint, "notice"))


def check_agent(spec: AgentSpec, where: Locator, *, base_dir: Path, strict: bool = False) -> CheckOutcome:
    """Every semantic check of one agent; `base_dir` is the agent file's directory (for Python tools).

    A broken models file ($RUNTIME_MODELS) is reported as the agent's errors, located in that file: no agent
    is checked, or run, against a catalogue that could not be read."""
    try:
        model = catalogue.lookup(spec.model)
    except CatalogueErrors as broken:
        return CheckOutcome(findings=list(broken.errors))
    context = _Context(spec, where, base_dir, strict, CheckOutcome(), model)
    for check in _CHECKS:
        check(context)
    return context.outcome


def _check_model(c: _Context) -> None:
    """Unknown: a warning listing today's models. Shut down: an error naming the replacement (the service closes
    the session with 1008 "not found"). Deprecated: a warning with the shutdown date."""
    models = catalogue.current()
    day = catalogue.today()
    model = c.model
    if model is None:
        current = models.ids("current", day)
        close = models.closest(c.spec.model, among=current)
        hint = (f"did you mean `{close}`? " if close else "") + "current models: " + ", ".join(current)
        message = f"unknown model `{c.spec.model}`: its limits and features cannot be checked"
        (c.error if c.strict else c.warn)(("model",), message, hint)
        return
    status = model.status(day)
    if status == "shut_down":
        when = f" on {model.lifecycle.shutdown}" if model.lifecycle.shutdown else ""
        c.error(
            ("model",),
            f"`{model.id}` was shut down{when}: the service refuses it",
            _replacement_hint(models, model, day),
        )
    elif status == "deprecated":
        when = f"shuts down on {model.lifecycle.shutdown}" if model.lifecycle.shutdown else "will be shut down"
        c.warn(("model",), f"`{model.id}` is deprecated: it {when}", _replacement_hint(models, model, day))


def _replacement_hint(models: catalogue.Catalogue, model: catalogue.ModelInfo, day: date) -> str:
    """The recommended replacement (followed past replacements that are gone too) and the newest model."""
    replacement = models.lookup(model.lifecycle.replacement or "")
    seen = {model.id}
    while replacement is not None and replacement.status(day) == "shut_down" and replacement.id not in seen:
        seen.add(replacement.id)
        replacement = models.lookup(replacement.lifecycle.replacement or "")
    newest = models.newest(day)
    if replacement is None:
        return f"use a current model such as `{newest.id}`" if newest else "see `runtime models`"
    hint = f"use `{replacement.id}`, its replacement"
    if newest is not None and newest.id != replacement.id:
        hint += f"; the newest Live model is `{newest.id}`"
    return hint


def _capable(feature: Callable[[catalogue.ModelInfo], bool]) -> str:
    """The newest current model with a feature, for a hint."""
    models = catalogue.current()
    day = catalogue.today()
    names = [name for name in models.ids("current", day) if feature(models.models[name])]
    return f"use a model that has it, such as `{names[0]}`" if names else "no current model has it"


def _check_features(c: _Context) -> None:
    model, session = c.model, c.spec.session
    check_video(c)
    if model is None:
        return
    features = model.features
    if session.affective_dialog and not features.affective_dialog:
        c.error(("session", "affective_dialog"), f"`{model.id}` does not support affective dialog",
                _capable(lambda m: m.features.affective_dialog))
    if session.proactive_audio and features.proactive_audio == "no":
        c.error(("session", "proactive_audio"), f"`{model.id}` does not support proactive audio",
                _capable(lambda m: m.features.proactive_audio != "no"))
    always_on = features.proactive_audio == "always"
    if not session.proactive_audio and always_on and c.where.has(("session", "proactive_audio")):
        c.warn(("session", "proactive_audio"), f"`{model.id}` always uses proactive audio: it cannot be turned off",
               "remove `proactive_audio: false`")
    _check_thinking(c, model)
    _check_reply(c, model)


def _check_thinking(c: _Context, model: catalogue.ModelInfo) -> None:
    if c.spec.generation.thinking_budget is None or model.features.thinking == "budget":
        return
    where = ("generation", "thinking_budget")
    if model.features.thinking == "level":
        levels = ", ".join(model.features.thinking_levels)
        c.error(where, f"`{model.id}` sets thinking by level ({levels}), not by a budget",
                f"remove `thinking_budget`: `{model.id}` thinks at its default level")
    elif model.features.thinking == "automatic":
        c.error(where, f"`{model.id}` thinks on its own: the service refuses thinking settings",
                "remove `thinking_budget`")
    else:
        c.error(where, f"`{model.id}` does not support thinking", _capable(lambda m: m.features.thinking == "budget"))


def _check_reply(c: _Context, model: catalogue.ModelInfo) -> None:
    """`response: text` on a model that only speaks: served as audio with output transcription, the audio
    discarded (`ModelInfo.reply_plan`), because every Live model of today speaks only."""
    plan = model.reply_plan(c.spec.response)
    if not plan.discard_audio:
        return
    forced = c.where.has(("session", "transcription", "output")) and not c.spec.session.transcription.output
    message = (
        f"`{model.id}` replies in audio only: `response: text` is served as audio with output transcription "
        "and the audio is discarded" + (" (output transcription is turned on regardless)" if forced else "")
    )
    c.notice(("response",), message, "the text arrives in pieces as the model speaks; `response: audio` to hear it")


def _check_model_tools(c: _Context) -> None:
    """Function behaviours the model cannot honour: 3.1 calls synchronously only, 3.8 Extended Thinking only
    asynchronously (their model pages)."""
    model = c.model
    if model is None:
        return
    behaviors = model.tools.behaviors
    for index, tool in c.spec.functions():
        if tool.behavior not in behaviors and tool.behavior == "non_blocking":
            c.error(("tools", index, "behavior"), f"`{model.id}` calls functions synchronously only",
                    "remove `behavior: non_blocking` (and `scheduling`), or choose a model with asynchronous calls")
        elif tool.behavior not in behaviors:
            c.warn(("tools", index), f"`{model.id}` calls functions asynchronously only: tool `{tool.name}` "
                   "cannot hold the reply until it returns", "set `behavior: non_blocking`")


def _check_compression(c: _Context) -> None:
    compression = c.spec.context.compression
    base = ("context", "compression")
    if not compression.enabled:
        c.warn(
            (*base, "enabled"),
            "without compression an audio session ends after 15 minutes, when its context is full",
            "keep compression on for always-on agents",
        )
        return
    if compression.target_tokens >= compression.trigger_tokens:
        c.error(
            (*base, "target_tokens"),
            f"`target_tokens` ({compression.target_tokens}) must be below `trigger_tokens` "
            f"({compression.trigger_tokens})",
            "compression shrinks the context from trigger_tokens down to target_tokens",
        )
    if c.model is not None and compression.trigger_tokens > c.model.context_window_tokens:
        c.error(
            (*base, "trigger_tokens"),
            f"`trigger_tokens` ({compression.trigger_tokens}) is larger than the context window of "
            f"`{c.model.name}` ({c.model.context_window_tokens} tokens)",
            f"use at most {c.model.context_window_tokens}; about 80% of it leaves room for the reply",
        )


def _check_modes(c: _Context) -> None:
    activity = c.spec.activity
    if activity.mode != "server":
        for key in ("start_sensitivity", "end_sensitivity", "prefix_padding_ms", "silence_duration_ms"):
            if c.where.has(("activity", key)):
                c.warn(("activity", key), f"`{key}` only applies to `mode: server`", "remove it", key=True)
    for loc, mode in ((("activity", "push_to_talk"), "push_to_talk"), (("activity", "wake"), "wake_word")):
        if activity.mode != mode and c.where.has(loc):
            c.warn(loc, f"`{loc[-1]}` only applies to `mode: {mode}`", f"set `mode: {mode}` or remove it", key=True)
    if activity.mode != "wake_word" and c.where.has(("conversation",)):
        c.warn(("conversation",), "`conversation` only applies to `activity.mode: wake_word`", "remove it", key=True)
    if c.spec.response == "text" and c.where.has(("voice",)):
        c.warn(("voice",), "`voice` is ignored when `response: text`", "remove it or use `response: audio`", key=True)
    low, high = c.spec.supervision.backoff_s
    if low > high:
        c.error(("supervision", "backoff_s"), f"the first backoff ({low} s) is longer than the longest ({high} s)")


def _check_tools(c: _Context) -> None:
    first_index: dict[str, int] = {}
    for index, tool in c.spec.functions():
        loc: KeyPath = ("tools", index)
        if tool.name in first_index:
            c.error(
                (*loc, "name"),
                f"tool name `{tool.name}` is used twice (first by tools[{first_index[tool.name]}])",
                "the model calls tools by name: give each a unique one",
            )
        first_index.setdefault(tool.name, index)
        if tool.scheduling is not None and tool.behavior != "non_blocking":
            c.error(
                (*loc, "scheduling"),
                "`scheduling` only applies to tools with `behavior: non_blocking`",
                "add `behavior: non_blocking`, or remove `scheduling`",
                key=True,
            )
        if tool.parameters is not None:
            _check_parameters_schema(c, loc, tool.parameters)
        if tool.python is not None:
            _check_python(c, index, tool)
        if tool.http is not None:
            c.outcome.tools[index] = declared(tool)
            check_http(c, loc, tool)
            if not tool.description:
                c.warn(loc, f"tool `{tool.name}` has no description", "the model decides when to call a tool from it")


def _check_parameters_schema(c: _Context, loc: KeyPath, parameters: dict[str, Any]) -> None:
    where = (*loc, "parameters")
    if parameters.get("type") != "object":
        c.error(where, "`parameters` must be a JSON Schema with `type: object`", "e.g. {type: object, properties: {}}")
        return
    if plainly_valid(parameters):  # most schemas: no jsonschema import (~45 ms) at every start
        return
    # only files with unusual parameters pay for the import
    from jsonschema import exceptions, validators  # type: ignore[import-untyped,unused-ignore]

    try:
        validators.Draft202012Validator.check_schema(parameters)
    except exceptions.SchemaError as error:
        path = (*where, *error.absolute_path)
        c.error(path, f"`parameters` is not a valid JSON Schema: {error.message}")


def _check_python(c: _Context, index: int, tool: Tool) -> None:
    """Import the function and derive its schema, once: the loader keeps what this resolves."""
    try:
        resolved = resolve_tool(tool, c.base_dir)
    except EntryPointError as error:
        c.error(("tools", index, "python"), error.message, error.hint)
        return
    c.outcome.tools[index] = resolved
    if not resolved.tool.description:
        c.warn(("tools", index), f"tool `{tool.name}` has no description", "add `description` or a docstring")


def _check_mcp_and_builtin(c: _Context) -> None:
    check_mcp_servers(c, c.spec, c.model, c.base_dir)
    check_builtin_tools(c, c.spec, c.model)


_CHECKS: tuple[Callable[[_Context], None], ...] = (
    _check_model,
    _check_features,
    _check_model_tools,
    _check_compression,
    _check_modes,
    _check_tools,
    _check_mcp_and_builtin,
)
