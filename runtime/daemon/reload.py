"""Hot reload: file events in, a `Plan` out. Planning is pure; watching the directory is a thin shell.

Shaped like uvicorn's reloaders: the watcher only answers "something relevant changed"; what to do about
it is `diff(old, new)` over agent fingerprints, so an unchanged agent is never touched (no reconnect).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import anyio

from runtime.agentfile.spec import AgentSpec

log = logging.getLogger(__name__)

AGENT_SUFFIXES = frozenset({".yaml", ".yml"})
WATCHED_SUFFIXES = AGENT_SUFFIXES | {".py"}

QUIET_MS = 120
"""A burst of file events is applied once no event came for this long (editors save in several steps)."""
MAX_BATCH_MS = 700
"""...but never later than this after the first event of the burst, so a reload lands within a second."""

T = TypeVar("T")


@dataclass(frozen=True)
class Plan:
    """What a reload does, by agent name; every name not listed keeps running untouched."""

    start: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.start or self.stop or self.restart)

    def __str__(self) -> str:
        parts = [f"{verb} {', '.join(names)}" for verb, names in
                 (("start", self.start), ("stop", self.stop), ("restart", self.restart)) if names]
        return "; ".join(parts) or "no change"


def diff(old: Mapping[str, object], new: Mapping[str, object]) -> Plan:
    """Compare fingerprints by agent name: new names start, vanished ones stop, changed ones restart."""
    return Plan(
        start=tuple(sorted(new.keys() - old.keys())),
        stop=tuple(sorted(old.keys() - new.keys())),
        restart=tuple(sorted(n for n in old.keys() & new.keys() if old[n] != new[n])),
    )


@dataclass(frozen=True)
class AgentConfig(Generic[T]):
    """A loaded agent and its fingerprint: the spec plus the source of the files its tools run from."""

    name: str
    path: Path
    agent: T = field(compare=False)
    fingerprint: str


def keep_last_good(
    old: Mapping[str, AgentConfig[T]], new: Mapping[str, AgentConfig[T]], failed_paths: Iterable[Path]
) -> dict[str, AgentConfig[T]]:
    """An invalid edit must not stop a working agent: an agent whose file now fails keeps its last good config."""
    failed = {p.resolve() for p in failed_paths}
    kept = dict(new)
    for name, config in old.items():
        if config.path.resolve() in failed and name not in kept:
            kept[name] = config
    return kept


def fingerprint(spec: AgentSpec, depends_on: Iterable[Path], *, base_dir: Path) -> str:
    """Changes whenever the agent would behave differently: its spec or the source of the files its tools run
    from (`LoadedAgent.depends_on`: a module file, or every file of a package)."""
    digest = hashlib.sha256(spec.model_dump_json().encode())
    for path in sorted(depends_on):
        name = path.relative_to(base_dir) if path.is_relative_to(base_dir) else path
        digest.update(str(name).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return digest.hexdigest()


def relevant(path: str) -> bool:
    """Agent files and tool modules, not editor droppings (`.swp`, `~`, `4913`, `.#lock`, hidden files)."""
    name = Path(path).name
    return Path(path).suffix in WATCHED_SUFFIXES and not name.startswith((".", "#")) and "__pycache__" not in path


async def watch_changes(directory: Path, *, stop: anyio.Event | None = None) -> AsyncIterator[set[str]]:
    """Yield the set of relevant changed paths, one set per burst of edits (debounced)."""
    from watchfiles import awatch

    async for changes in awatch(
        directory,
        watch_filter=lambda _change, path: relevant(path),
        debounce=MAX_BATCH_MS,
        step=QUIET_MS,
        stop_event=stop,
        recursive=True,
        ignore_permission_denied=True,
    ):
        paths = {path for _change, path in changes}
        if paths:
            yield paths
