"""The architecture's import-linter contracts (pyproject.toml, docs/architecture.md) hold, and they bite.

scripts/test.sh runs `lint-imports` too; this test also plants a forbidden import in a copy of the package,
so a contract that could never fail (a typo in a module name, a layer left out) fails here instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(source_root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(source_root / "pyproject.toml")],
        cwd=source_root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "runtime", tmp_path / "runtime", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("live/planted.py", "import runtime.daemon.supervisor", "A session does not know who supervises it"),
        ("live/planted.py", "import runtime.emulator.server", "The emulator and the Live client never import"),
        ("agentfile/planted.py", "import runtime.live.session", "The agent file knows no session"),
        ("audio/planted.py", "import runtime.live.uplink", "Audio knows nothing of Live"),
        ("satellite/planted.py", "import runtime.live.uplink", "A satellite is a pair of audio ports"),
        ("audio/planted.py", "import runtime.satellite.link", "Layers"),
        ("video/planted.py", "import runtime.live.uplink", "Video knows nothing of Live"),
        ("video/planted.py", "import runtime.audio.ring", "Layers"),
        ("guards/planted.py", "import runtime.agentfile.spec", "Layers"),
        ("live/connection_helper.py", "import runtime.live.session", "No import cycle"),
    ],
)
def test_a_planted_import_breaks_its_contract(tmp_path: Path, module: str, planted: str, contract: str) -> None:
    root = copy_of_the_package(tmp_path)
    (root / "runtime" / module).write_text(planted + "\n")
    if module == "live/connection_helper.py":  # a cycle: session -> connection -> helper -> session
        connection = root / "runtime" / "live" / "connection.py"
        connection.write_text(connection.read_text() + "\nimport runtime.live.connection_helper  # noqa\n")
    result = lint(root)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
