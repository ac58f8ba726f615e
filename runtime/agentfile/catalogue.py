"""The Live models runtime knows and the rules each follows, read from data (runtime/data/models.yaml).

One place for every per-model fact: `runtime validate` checks agent files against it, `runtime models` prints
it, the emulator serves and enforces it and the session adapts to it. A user file (`$RUNTIME_MODELS`, or
`--models FILE`) adds or replaces models by id, so a model released after this package can be described
without a new release. Every fact group carries its source (a URL, `owner/repo#number`, or `unconfirmed: ...`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runtime.agentfile.catalogue_file import read_catalogue
from runtime.agentfile.catalogue_schema import Catalogue, ModelInfo, Refusal, ReplyPlan, ServiceRules, Status, today

__all__ = [
    "ENV_VAR",
    "Catalogue",
    "ModelInfo",
    "Refusal",
    "ReplyPlan",
    "ServiceRules",
    "Status",
    "closest",
    "current",
    "load",
    "lookup",
    "today",
]

ENV_VAR = "RUNTIME_MODELS"
"""Path of a user models file read on top of the packaged catalogue (`--models FILE` sets it for one run)."""

_cache: dict[tuple[Any, ...], Catalogue] = {}


def load(override: Path | None = None) -> Catalogue:
    """The packaged catalogue with a user file on top; raises `CatalogueErrors` with file:line:column."""
    return read_catalogue(override)


def current() -> Catalogue:
    """The catalogue in force: packaged, plus `$RUNTIME_MODELS`; read again when that file changes."""
    override = os.environ.get(ENV_VAR) or None
    key: tuple[Any, ...] = (override,)
    if override is not None:
        try:
            stat = Path(override).stat()
            key = (override, stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = (override, None)
    if key not in _cache:
        _cache.clear()
        _cache[key] = load(Path(override) if override else None)
    return _cache[key]


def lookup(model: str) -> ModelInfo | None:
    """The catalogue entry of a model name (with or without the `models/` prefix), or None if unknown."""
    return current().lookup(model)


def closest(model: str) -> str | None:
    """The known model name nearest to a misspelt one, for a "did you mean" hint."""
    return current().closest(model)


def __getattr__(name: str) -> dict[str, ModelInfo]:
    """`MODELS`: every known model by id (the catalogue in force, as a dict)."""
    if name == "MODELS":
        return dict(current().models)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
