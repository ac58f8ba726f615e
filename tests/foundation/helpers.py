"""Helpers of the foundation tests: write an agent file, load it, find the error at a position."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtime.agentfile.loader import ConfigErrors, load_agent
from runtime.errors import RuntimeConfigError

MODEL = "gemini-3.8-live"


def write(directory: Path, text: str, name: str = "agent.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def failures(path: Path, **options: object) -> list[RuntimeConfigError]:
    """Every error and warning of a file that must fail to load."""
    with pytest.raises(ConfigErrors) as caught:
        load_agent(path, **options)  # type: ignore[arg-type]
    return caught.value.errors


def position(error: RuntimeConfigError) -> str:
    return f"{error.location.line}:{error.location.column}"


def only_error(path: Path, **options: object) -> RuntimeConfigError:
    """The single error of a file (warnings ignored)."""
    errors = [e for e in failures(path, **options) if e.severity == "error"]
    assert len(errors) == 1, [e.render() for e in errors]
    return errors[0]
