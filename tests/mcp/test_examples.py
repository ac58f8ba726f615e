"""The documented example agents validate (with their secrets present)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.agentfile.loader import load_agent
from tests.mcp.servers import ROOT

EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_a_documented_example_validates(path: Path, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    for name in ("ha_token",):
        (secrets / name).write_text("example-token")
        (secrets / name).chmod(0o600)
    agent = load_agent(path, secrets_dir=secrets)
    assert agent.spec.mcp_servers(), "the examples show MCP servers"
    assert not [warning.render() for warning in agent.warnings]
