"""The Pipecat environment's checks, the CPU spread, the report's cells and the bytecode the clients start from."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bench.baselines import environment
from bench.report import cell, table
from bench.stats import median_and_range


def test_every_missing_system_package_is_named_with_one_install_command() -> None:
    missing = environment.missing_system_packages(which=lambda _: None, exists=lambda _: False)
    message = environment.missing_packages_message(missing)

    assert [entry.split()[0] for entry in missing][:3] == ["gcc", "portaudio19-dev", "python3-dev"]
    assert "sudo apt-get install -y gcc portaudio19-dev python3-dev" in message
    assert "python -m bench --setup-baselines" in message


def test_nothing_is_missing_when_compiler_and_headers_are_there() -> None:
    assert environment.missing_system_packages(which=lambda name: f"/usr/bin/{name}", exists=lambda _: True) == []


def make_venv(root: Path, pins: list[str] | None) -> Path:
    venv = root / "pipecat"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    if pins is not None:
        (venv / environment.STAMP).write_text(json.dumps({"requirements": pins, "versions": "1 2"}))
    return venv


def test_a_missing_or_unfinished_environment_is_refused_with_the_setup_command(tmp_path: Path) -> None:
    assert "--setup-baselines" in (environment.stale_reason(tmp_path / "nowhere") or "")
    assert "--setup-baselines" in (environment.stale_reason(make_venv(tmp_path, None)) or "")


def test_an_environment_made_for_other_pins_is_refused(tmp_path: Path) -> None:
    reason = environment.stale_reason(make_venv(tmp_path, ["pipecat-ai[google,local]==0.0.1"]))
    assert reason is not None and "0.0.1" in reason and "--setup-baselines" in reason


def test_the_pinned_environment_is_accepted(tmp_path: Path) -> None:
    assert environment.stale_reason(make_venv(tmp_path, list(environment.REQUIREMENTS))) is None


def test_the_constraints_hold_the_pinned_versions() -> None:
    """The constraints file and the pins agree, or pip could not resolve the setup."""
    held = dict(line.split("==", 1) for line in environment.CONSTRAINTS.read_text().splitlines() if "==" in line)
    for pin in environment.REQUIREMENTS:
        name, version = pin.split("==")
        assert held[name.split("[")[0]] == version


def test_cpu_figure_is_the_median_window_and_the_spread_its_extremes() -> None:
    assert median_and_range([3.14, 2.96, 3.51]) == (3.1, [3.0, 3.5])
    assert median_and_range([7.0]) == (7.0, [7.0, 7.0])
    with pytest.raises(ValueError):
        median_and_range([])


def test_a_spread_reads_as_a_range() -> None:
    assert cell([2.9, 3.3]) == "2.9–3.3"


def test_a_metric_the_runtime_lacks_still_shows_the_baselines_rows() -> None:
    result = {
        "interrupt_to_silence_ms": {"p50": None, "p95": None, "p99": None, "available": False, "reason": "no samples"},
        "baselines": {"quickstart": {"interrupt_to_silence_ms": {"p50": 30.0, "p95": 40.0, "p99": 41.0, "n": 3}}},
    }
    rows = [line for line in table("interrupt_to_silence_ms", result) if line.startswith("| p")]
    assert rows[0] == "| p50 | n/a (no samples) | 30 | — |"
    assert len(rows) == 3


def test_the_clients_start_from_bytecode_as_an_installed_runtime_does() -> None:
    from bench.runs import REPO, compile_bytecode

    compile_bytecode()
    for module in (REPO / "runtime" / "cli.py", REPO / "runtime" / "live" / "session.py", REPO / "bench" / "client.py"):
        assert Path(importlib.util.cache_from_source(str(module))).exists(), module
