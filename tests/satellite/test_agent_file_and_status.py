"""`audio.satellite` in the agent file (`runtime validate`, the schema) and `waiting for satellite` in the
daemon's status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.agentfile.spec import AgentSpec
from runtime.daemon.events import AgentState, AgentStateChanged, AgentStopped, SatelliteChanged
from runtime.daemon.status import StatusBoard
from runtime.satellite.states import CONNECTED, WAITING
from tests.foundation.helpers import MODEL, write

ROOT = Path(__file__).resolve().parents[2]


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNTIME_SECRETS_DIR": "/nonexistent-secrets"}
    return subprocess.run([sys.executable, "-m", "runtime", "validate", str(path)], capture_output=True, text=True,
                          cwd=ROOT, env=env)


def test_a_satellite_address_validates() -> None:
    spec = AgentSpec.model_validate({"model": MODEL, "audio": {"satellite": "wyoming://kitchen-sat.local:10700"}})
    assert spec.audio.satellite == "wyoming://kitchen-sat.local:10700"


@pytest.mark.parametrize("address", ["tcp://kitchen:10700", "wyoming://kitchen", "kitchen:10700",
                                     "wyoming://kitchen:10700/extra"])
def test_a_malformed_satellite_address_is_a_located_error(tmp_path: Path, address: str) -> None:
    path = write(tmp_path, f"model: {MODEL}\naudio:\n  satellite: \"{address}\"\n")
    result = validate(path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"{path}:3:14: error:"), result.stdout


def test_the_status_says_waiting_for_satellite_while_it_is_away() -> None:
    board = StatusBoard()
    board.apply(AgentStateChanged("kitchen", AgentState.RUNNING))
    board.apply(SatelliteChanged("kitchen", WAITING))
    assert board.text() == "1 agent: 1 running; kitchen: waiting for satellite"
    board.apply(SatelliteChanged("kitchen", CONNECTED))
    assert board.text() == "1 agent: 1 running"
    board.apply(SatelliteChanged("kitchen", WAITING))
    board.apply(AgentStopped("kitchen"))
    assert board.text() == "0 agents"
