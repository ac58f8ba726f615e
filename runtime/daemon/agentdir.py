"""The agents directory as the daemon sees it: safe files loaded, bad ones reported, never fatal.

Guard (threat model, see `runtime.guards.permissions`): agent files name Python tool modules that the daemon
imports and runs with its own rights. The whole directory is checked once at start-up; on every reload each
file (and the Python files beside it) is checked again before it is loaded, and every file its tools run from
(a tool package's modules at any depth, and the package's directories) before any is imported, because a
file that turned group-writable since start-up may already hold someone else's code. Unless
`--insecure-permissions`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from runtime.agentfile.spec import AgentSpec
from runtime.daemon.reload import AGENT_SUFFIXES, AgentConfig, fingerprint
from runtime.errors import Location, RuntimeConfigError
from runtime.guards.permissions import check_private

if TYPE_CHECKING:
    from runtime.agentfile.resolved_tools import ResolvedTool

log = logging.getLogger(__name__)


class LoadedAgentLike(Protocol):
    """What the daemon needs of `runtime.agentfile.loader.LoadedAgent`."""

    @property
    def spec(self) -> AgentSpec: ...

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> Path: ...

    @property
    def tools(self) -> tuple[ResolvedTool, ...]: ...

    @property
    def depends_on(self) -> tuple[Path, ...]:
        """The Python files beside the agent file that its tools run from."""
        ...

    @property
    def name_location(self) -> Location | None:
        """Where the file sets `name:` (its start when the name is the file's)."""
        ...


ImportGuard = Callable[[Sequence[Path]], None]


class LoadAgent(Protocol):
    """`runtime.agentfile.loader.load_agent`, as the daemon calls it."""

    def __call__(self, path: Path, *, before_import: ImportGuard | None = None) -> LoadedAgentLike: ...


@dataclass
class DirectoryState:
    """One reading of the agents directory: valid agents by name, and located errors of the others."""

    configs: dict[str, AgentConfig[LoadedAgentLike]] = field(default_factory=dict)
    errors: list[RuntimeConfigError] = field(default_factory=list)
    failed_paths: list[Path] = field(default_factory=list)
    """Agent files that exist but could not be used (their last good config, if any, stays)."""

    def fail(self, path: Path, error: RuntimeConfigError) -> None:
        self.failed_paths.append(path)
        self.errors.append(error)


def permission_error(path: Path, *, parents: bool = False) -> RuntimeConfigError | None:
    """A located error when other users could change `path` (see `runtime.guards.permissions`), else None."""
    problems = check_private(path, parents=parents)
    if not problems:
        return None
    return RuntimeConfigError(
        Location(str(path)),
        "refusing it, since whoever can change it can run code as this service: " + "; ".join(problems),
        hint="make it private (chmod go-w, owned by root or the service user), or run with --insecure-permissions",
    )


def agent_files(directory: Path) -> list[Path]:
    """Agent files of a directory, in name order (hidden files and editor droppings left out)."""
    return sorted(
        p for p in directory.iterdir()
        if p.suffix in AGENT_SUFFIXES and p.is_file() and not p.name.startswith((".", "#", "~"))
    )


def read_directory(directory: Path, load: LoadAgent, *, check_permissions: bool = True) -> DirectoryState:
    """Load every agent file of `directory`; an unsafe or invalid file becomes an error, never an exception."""
    state = DirectoryState()
    # One snapshot per read: a directory that is a symlink swapped to a new release (docs/fleet.md) is resolved
    # once, so every file of this read comes from the same tree, never half from each.
    snapshot = directory.resolve()
    if check_permissions and (problem := permission_error(snapshot, parents=True)) is not None:
        state.errors.append(problem)
        state.failed_paths.extend(agent_files(snapshot))
        return state
    paths: dict[str, Path] = {}
    for path in agent_files(snapshot):
        if check_permissions and (problem := _file_problem(path)) is not None:
            state.fail(path, problem)
            continue
        try:
            agent = load(path, before_import=_tool_files_guard(path) if check_permissions else None)
        except RuntimeConfigError as exc:
            state.fail(path, exc)
            continue
        except Exception as exc:  # a loader bug on one file must not stop the others from loading
            log.debug("loading %s raised", path, exc_info=exc)
            state.fail(path, RuntimeConfigError(Location(str(path)), f"cannot load: {type(exc).__name__}: {exc}"))
            continue
        if agent.name in paths:
            state.fail(path, RuntimeConfigError(
                agent.name_location or Location(str(path)),
                f"agent name {agent.name!r} is already used by {paths[agent.name]}",
                hint="give one of them another `name:` (or rename the file)",
            ))
            continue
        paths[agent.name] = path
        state.configs[agent.name] = AgentConfig(
            name=agent.name, path=path, agent=agent,
            fingerprint=fingerprint(agent.spec, agent.depends_on, base_dir=path.resolve().parent),
        )
    return state


def _file_problem(path: Path) -> RuntimeConfigError | None:
    """The agent file and the Python files beside it (tool modules) must be safe from other users."""
    problem = permission_error(path)
    if problem is not None:
        return problem
    for module in sorted(path.parent.glob("*.py")):
        problem = permission_error(module)
        if problem is not None:
            return RuntimeConfigError(Location(str(path)), f"tool module {module.name} beside it: {problem.message}",
                                      hint=problem.hint)
    return None


def _tool_files_guard(path: Path) -> ImportGuard:
    """Refuse the files an agent's tools run from, and the package directories holding them, when other users
    could change them: checked after the agent file is read and before any of them is imported."""
    base_dir = path.resolve().parent

    def check(files: Sequence[Path]) -> None:
        for checked in _with_package_directories(files, base_dir):
            problem = permission_error(checked)
            if problem is not None:
                raise RuntimeConfigError(
                    Location(str(path)), f"tool module {_relative(checked, base_dir)}: {problem.message}",
                    hint=problem.hint,
                )

    return check


def _with_package_directories(files: Sequence[Path], base_dir: Path) -> list[Path]:
    """The files, then every directory between them and `base_dir` (a writable one lets a file be swapped)."""
    directories: set[Path] = set()
    for file in files:
        directories.update(parent for parent in file.parents if parent != base_dir and parent.is_relative_to(base_dir))
    return [*files, *sorted(directories)]


def _relative(path: Path, base_dir: Path) -> str:
    return str(path.relative_to(base_dir)) if path.is_relative_to(base_dir) else str(path)
