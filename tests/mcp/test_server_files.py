"""A local MCP server's files inside the agent directory are checked like a Python tool's: the daemon starts the
server with its own rights, so a file others can change is refused before anything runs."""

from __future__ import annotations

from pathlib import Path

from runtime.agentfile.loader import load_agent
from runtime.agentfile.resolved_tools import dependency_files
from runtime.daemon.agentdir import read_directory
from tests.foundation.helpers import MODEL, write


def agent_with_servers(agents: Path) -> Path:
    agents.chmod(0o755)
    (agents / "home_server.py").write_text("print('a server')\n")
    (agents / "home_tools").mkdir()
    (agents / "home_tools" / "__init__.py").write_text("")
    (agents / "home_tools" / "__main__.py").write_text("print('a server')\n")
    return write(agents, f"""
        model: {MODEL}
        tools:
          - mcp: {{command: [python3, home_server.py, --verbose]}}
          - mcp: {{command: [python3, -m, home_tools]}}
          - mcp: {{command: [python3, /usr/lib/os-release]}}
        """, "home.yaml")


def test_the_files_of_a_stdio_server_inside_the_agent_directory_are_its_dependencies(tmp_path: Path) -> None:
    path = agent_with_servers(tmp_path)
    agent = load_agent(path)
    names = sorted(file.relative_to(tmp_path.resolve()).as_posix() for file in dependency_files(agent.spec, tmp_path))
    assert names == ["home_server.py", "home_tools/__init__.py", "home_tools/__main__.py"]
    assert agent.depends_on == dependency_files(agent.spec, tmp_path)


def test_a_server_script_others_can_write_is_refused_before_it_runs(tmp_path: Path) -> None:
    agent_with_servers(tmp_path)
    (tmp_path / "home_server.py").chmod(0o666)
    state = read_directory(tmp_path, load_agent)
    assert "home" not in state.configs
    (error,) = state.errors
    assert "home_server.py" in error.render()
