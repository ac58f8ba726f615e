"""Agent files → `AgentSpec`, with every error reported as `path:line:column: error: message` and a hint.

The stages: read (size, encoding) → safe YAML with positions (`runtime.agentfile.yamldoc`) and `${...}` references
(`runtime.guards.secrets`) → pydantic (`runtime.agentfile.spec`) → the files its tools run from, shown to
`before_import` →
semantic checks (`runtime.agentfile.checks`), which resolve every tool once. Each stage reports all of its errors; a
stage with errors stops the file there, so later stages never report follow-on noise. The result is the
resolved agent every later stage consumes: the spec, its tools (`runtime.agentfile.resolved_tools`) and its files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from yaml import nodes

from runtime.agentfile import placeholders, yamldoc
from runtime.agentfile.checks import check_agent
from runtime.agentfile.resolved_tools import ResolvedTool, dependency_files
from runtime.agentfile.spec import SLUG_PATTERN, AgentSpec
from runtime.agentfile.spec_errors import translate
from runtime.errors import Location, RuntimeConfigError
from runtime.guards.redact import SECRETS
from runtime.guards.secrets import REFERENCE, Resolver, secrets_dir_from_env

_log = logging.getLogger(__name__)

MAX_FILE_BYTES = 1024 * 1024
AGENT_SUFFIXES = (".yaml", ".yml")

ImportGuard = Callable[[Sequence[Path]], None]
"""Shown the Python files an agent's tools run from before any is imported; raises `RuntimeConfigError` to
refuse them (the daemon checks their permissions: whoever can change them can run code as the service)."""


class ConfigErrors(RuntimeConfigError):
    """Every error (and warning) found in one or more agent files; located and rendered like the first."""

    def __init__(self, errors: Sequence[RuntimeConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        ordered = sorted(errors, key=_order)
        first = next((e for e in ordered if e.severity == "error"), ordered[0])
        super().__init__(first.location, first.message, first.hint, first.severity)
        self.errors = ordered

    def render(self) -> str:
        return "\n".join(error.render() for error in self.errors)


def _order(error: RuntimeConfigError) -> tuple[str, int, int]:
    return (error.location.path, error.location.line, error.location.column)


@dataclass(frozen=True)
class LoadedAgent:
    """A valid agent file resolved: its spec (tool parameters filled in), its name, its tools ready to declare
    and call, the files they run from, and the warnings it raised."""

    spec: AgentSpec
    name: str
    path: Path
    warnings: list[RuntimeConfigError] = field(default_factory=list)
    name_location: Location | None = None
    tools: tuple[ResolvedTool, ...] = ()
    """`spec.tools`, resolved once (`runtime.agentfile.resolved_tools`): sessions and the Live config use these."""
    depends_on: tuple[Path, ...] = ()
    """The Python files beside the agent file its tools run from (every file of a package)."""
    microphone_location: Location | None = None
    """Where the file names its microphone (`audio.input.device`), else its activity mode, else its start."""


def load_agent(
    path: Path, *, secrets_dir: Path | None = None, strict: bool = False, before_import: ImportGuard | None = None
) -> LoadedAgent:
    """Load, check and resolve one agent file; raises `ConfigErrors` holding every error and warning found.

    `before_import` sees the tool files before any is imported (and may refuse them by raising)."""
    doc = _parse(path, Resolver(secrets_dir_from_env(secrets_dir)))
    raw = doc.value
    try:
        spec = AgentSpec.model_validate(raw)
    except ValidationError as error:
        findings = translate(error, doc)
        raise ConfigErrors(_redacted(findings)) from None
    base_dir = path.resolve().parent
    depends_on = dependency_files(spec, base_dir)
    if before_import is not None:
        before_import(depends_on)
    outcome = check_agent(spec, doc, base_dir=base_dir, strict=strict)
    findings = sorted(_redacted(outcome.findings), key=_order)
    if any(finding.severity == "error" for finding in findings):
        raise ConfigErrors(findings)
    if spec.name is None and not re.fullmatch(SLUG_PATTERN, path.stem):
        findings.append(
            RuntimeConfigError(
                Location(str(path), 1, 1),
                f"the file name `{path.stem}` cannot be the agent's name",
                "set `name:` (lowercase letters, digits, `-`, `_`) or rename the file",
            )
        )
        raise ConfigErrors(findings)
    name = spec.agent_name(path.stem)
    name_location = _written(doc, ("name",))
    tools = tuple(outcome.tools[index] for index, _ in spec.functions())
    if tools:
        filled = {index: outcome.tools[index].tool for index, _ in spec.functions()}
        spec = spec.model_copy(update={"tools": [filled.get(index, entry) for index, entry in enumerate(spec.tools)]})
    _log.debug("loaded agent %s from %s", name, path)
    microphone = _written(doc, ("audio", "input", "device"), ("activity", "mode"))
    return LoadedAgent(spec, name, path, findings, name_location, tools, depends_on, microphone)


def _written(doc: yamldoc.Document, *keys: yamldoc.KeyPath) -> Location:
    """Where the first of `keys` the user wrote is; the file's start if none was written."""
    written = next((key for key in keys if doc.has(key)), None)
    return doc.locate(written) if written is not None else Location(doc.path, 1, 1)


def _parse(path: Path, resolver: Resolver) -> yamldoc.Document:
    doc = yamldoc.Document(str(path), _read(path))
    try:
        yamldoc.parse(doc, _interpolator(doc, resolver))
    except RuntimeConfigError as error:
        raise ConfigErrors(_redacted([error])) from None
    if doc.errors:
        raise ConfigErrors(_redacted(doc.errors))
    if doc.value is None:
        raise ConfigErrors(
            [RuntimeConfigError(Location(str(path), 1, 1), "the file is empty", "add at least `model:`")]
        )
    if not isinstance(doc.value, dict):
        raise ConfigErrors(
            [RuntimeConfigError(doc.locate(()), "an agent file is a mapping of keys", "start with `model: ...`")]
        )
    return doc


def _read(path: Path) -> str:
    """The file's text, refusing what cannot be an agent file before parsing it."""
    where = Location(str(path))
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise ConfigErrors([RuntimeConfigError(where, "is a directory, not an agent file")]) from None
    except OSError as error:
        raise ConfigErrors([RuntimeConfigError(where, f"cannot read the file: {error.strerror}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigErrors(
            [
                RuntimeConfigError(
                    where, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB", "an agent file is small"
                )
            ]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise ConfigErrors(
            [RuntimeConfigError(Location(str(path), line, column), "the file is not UTF-8 text", "save it as UTF-8")]
        ) from None


def _interpolator(doc: yamldoc.Document, resolver: Resolver) -> yamldoc.StringHook:
    """Resolve `${env:...}`/`${secret:...}` in string values; each failure is located at its reference."""

    def interpolate(text: str, node: nodes.ScalarNode, path: yamldoc.KeyPath) -> str:
        value, failures = resolver.interpolate(text, placeholders.escape if is_http_template(path) else None)
        if failures:
            locations = _reference_locations(doc, node)
            for failure in failures:
                where = locations[failure.ordinal] if failure.ordinal < len(locations) else doc.locate(path)
                doc.error(where, failure.message, failure.hint)
        return value

    return interpolate


def is_http_template(path: yamldoc.KeyPath) -> bool:
    """An HTTP tool's URL, header value or body string: text the tool fills with `runtime.agentfile.placeholders`."""
    return len(path) >= 4 and path[0] == "tools" and path[2] == "http" and path[3] in ("url", "headers", "body")


def _reference_locations(doc: yamldoc.Document, node: nodes.ScalarNode) -> list[Location]:
    """Where each `${...}` reference of a scalar is written (escaped `$${` ones excluded)."""
    written = doc.source[node.start_mark.index : node.end_mark.index]
    return [
        doc.location_at(node.start_mark.index + match.start())
        for match in REFERENCE.finditer(written)
        if not match.group(1)
    ]


def _redacted(findings: Iterable[RuntimeConfigError]) -> list[RuntimeConfigError]:
    """Belt and braces: no message or hint may carry a resolved secret, whichever stage wrote it."""
    return [
        RuntimeConfigError(f.location, SECRETS.redact(f.message), SECRETS.redact(f.hint), f.severity) for f in findings
    ]


def is_agent_file(path: Path) -> bool:
    """A YAML file that is not hidden and not an editor's backup, lock or swap file."""
    name = path.name
    return (
        name.endswith(AGENT_SUFFIXES)
        and not name.startswith((".", "#", "~"))
        and not name.endswith("~")
        and path.is_file()
    )


def agent_files(directory: Path) -> list[Path]:
    """The agent files of a directory (not recursive), in name order."""
    return sorted(path for path in directory.iterdir() if is_agent_file(path))


def duplicate_names(agents: Iterable[LoadedAgent]) -> list[RuntimeConfigError]:
    """One error per agent whose name an earlier agent (in file order) already uses."""
    first: dict[str, LoadedAgent] = {}
    errors = []
    for agent in agents:
        if agent.name in first:
            errors.append(
                RuntimeConfigError(
                    agent.name_location or Location(str(agent.path), 1, 1),
                    f"agent name `{agent.name}` is already used by {first[agent.name].path}",
                    "names must be unique: they name state files, log lines and metrics; set `name:`",
                )
            )
        else:
            first[agent.name] = agent
    return errors


def load_directory(
    path: Path, *, secrets_dir: Path | None = None, strict: bool = False
) -> tuple[list[LoadedAgent], list[RuntimeConfigError]]:
    """Every valid agent of a directory, and every error (the later of two agents with one name is dropped).

    The error list holds errors only; the warnings of valid agents are on each `LoadedAgent`.
    """
    agents: list[LoadedAgent] = []
    errors: list[RuntimeConfigError] = []
    for file in agent_files(path):
        try:
            agents.append(load_agent(file, secrets_dir=secrets_dir, strict=strict))
        except ConfigErrors as failure:
            errors.extend(error for error in failure.errors if error.severity == "error")
    duplicates = duplicate_names(agents)
    dropped = {error.location.path for error in duplicates}
    errors.extend(duplicates)
    return [agent for agent in agents if str(agent.path) not in dropped], errors
