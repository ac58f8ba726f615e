"""An agent's tools resolved once, when the agent is loaded: what the model is told and what runs a call.

One fact, one place: a tool's parameter schema is worked out here and nowhere else. The checks report what
fails to resolve, the loader keeps the result, and the tool runner, the Live config and the daemon consume
it as it is. Resolving a Python tool imports its module (`runtime.agentfile.entrypoints`), so it happens when the
agent file is loaded, never on the event loop of a running session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.agentfile.entrypoints import derive_parameters, docstring_summary, resolve_entry_point, source_files
from runtime.agentfile.spec import AgentSpec, HttpCall, Tool

__all__ = ["EMPTY_PARAMETERS", "ResolvedTool", "declared", "dependency_files", "resolve_tool", "resolve_tools"]

EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
"""The schema of a tool that takes no arguments."""


@dataclass(frozen=True)
class ResolvedTool:
    """One tool, ready to be declared and called."""

    tool: Tool
    """As written, with a Python tool's `parameters` and `description` filled in from its function."""
    parameters: dict[str, Any]
    """The JSON Schema the model is given and each call's arguments are validated against."""
    function: Callable[..., Any] | None = None
    """A Python tool's function (None for an HTTP tool)."""

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def http(self) -> HttpCall | None:
        """An HTTP tool's request template (None for a Python tool)."""
        return self.tool.http


def declared(tool: Tool) -> ResolvedTool:
    """A tool as its file declares it, without importing anything: its own `parameters`, else none."""
    return ResolvedTool(tool, tool.parameters or EMPTY_PARAMETERS)


def resolve_tool(tool: Tool, base_dir: Path) -> ResolvedTool:
    """The tool with its function imported (module beside `base_dir` first) and its schema derived from the
    type hints unless `parameters` is given; raises `EntryPointError`."""
    if tool.python is None:
        return declared(tool)
    function = resolve_entry_point(tool.python, base_dir)
    parameters = tool.parameters if tool.parameters is not None else derive_parameters(function)
    update: dict[str, Any] = {}
    if tool.parameters is None:
        update["parameters"] = parameters
    if not tool.description and docstring_summary(function):
        update["description"] = docstring_summary(function)
    return ResolvedTool(tool.model_copy(update=update) if update else tool, parameters, function)


def resolve_tools(tools: Iterable[Tool], base_dir: Path) -> tuple[ResolvedTool, ...]:
    """Every tool resolved (for a spec that did not come through the loader); raises `EntryPointError`."""
    return tuple(resolve_tool(tool, base_dir) for tool in tools)


def dependency_files(spec: AgentSpec, base_dir: Path) -> tuple[Path, ...]:
    """The files beside the agent file that its tools run: a module file, or every file of a package, and the
    files of a local MCP server's command that are inside the agent directory.

    Known before anything is imported or started, so that they can be checked (permissions) first, as Python
    tools are: a server the daemon starts runs with its rights. The same files key the import cache and the
    daemon's fingerprint (editing a server restarts its agent).
    """
    files: set[Path] = set()
    for _, tool in spec.functions():
        if tool.python is not None:
            files.update(source_files(tool.python.partition(":")[0], base_dir))
    for _, server in spec.mcp_servers():
        files.update(_server_files(server.command or [], base_dir))
    return tuple(sorted(files))


def _server_files(command: list[str], base_dir: Path) -> set[Path]:
    """The program and arguments of a server's command that are files in the agent directory, and the files of
    a module it runs with `-m` from there."""
    files: set[Path] = set()
    root = base_dir.resolve()
    for index, word in enumerate(command):
        if index and command[index - 1] == "-m":
            files.update(source_files(word, base_dir))
            continue
        candidate = (base_dir / word).resolve()
        if candidate.is_file() and candidate.is_relative_to(root):
            files.add(candidate)
    return files
