"""Loading a directory: only agent files, valid ones loaded, duplicate names reported, examples valid."""

from __future__ import annotations

import shutil
from pathlib import Path

from runtime.agentfile.loader import agent_files, load_agent, load_directory
from runtime.daemon.agentdir import read_directory
from tests.foundation.helpers import MODEL, position, write

AGENTS = Path(__file__).resolve().parents[2] / "agents"


def test_example_agents_are_valid_and_warning_free() -> None:
    agents, errors = load_directory(AGENTS)
    assert errors == []
    assert sorted(agent.name for agent in agents) == ["desk", "kitchen", "minimal"]
    findings = {agent.name: [finding.severity for finding in agent.warnings] for agent in agents}
    # desk is a text agent on a model that only speaks: validate says how it will be served, nothing more
    assert findings == {"desk": ["notice"], "kitchen": [], "minimal": []}


def test_example_files_carry_the_schema_modeline() -> None:
    for path in agent_files(AGENTS):
        assert path.read_text().startswith("# yaml-language-server: $schema=../schemas/agent.schema.json\n")


def test_kitchen_tools_get_parameters_from_type_hints() -> None:
    kitchen = load_agent(AGENTS / "kitchen.yaml")
    tools = {tool.name: tool for tool in kitchen.spec.tools}
    assert tools["set_timer"].parameters is not None
    assert tools["set_timer"].parameters["required"] == ["minutes"]
    assert tools["convert"].parameters is not None
    assert tools["convert"].parameters["properties"]["to_unit"]["enum"] == ["g", "oz", "ml", "cup"]
    assert tools["weather"].http is not None


def test_hidden_and_editor_files_are_skipped(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yml", ".hidden.yaml", ".#a.yaml", "a.yaml~", "#a.yaml#", ".a.yaml.swp", "notes.txt"):
        (tmp_path / name).write_text(f"model: {MODEL}\n")
    (tmp_path / "sub.yaml").mkdir()
    assert [path.name for path in agent_files(tmp_path)] == ["a.yaml", "b.yml"]


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    assert load_agent(write(tmp_path, f"model: {MODEL}\n", "living-room.yaml")).name == "living-room"


def test_duplicate_names_across_files_are_reported_at_the_name(tmp_path: Path) -> None:
    write(tmp_path, f"model: {MODEL}\n", "kitchen.yaml")
    write(tmp_path, f"model: {MODEL}\nname: kitchen\n", "other.yaml")
    write(tmp_path, f"model: {MODEL}\nname: [\n", "broken.yaml")
    agents, errors = load_directory(tmp_path)
    assert [agent.path.name for agent in agents] == ["kitchen.yaml"]
    assert [(Path(e.location.path).name, position(e)) for e in errors] == [
        ("broken.yaml", "3:1"),
        ("other.yaml", "2:7"),
    ]
    assert "already used by" in errors[1].message


def test_the_daemon_reports_a_duplicate_name_at_the_name_too(tmp_path: Path) -> None:
    write(tmp_path, f"model: {MODEL}\n", "kitchen.yaml")
    write(tmp_path, f"model: {MODEL}\n\nname: kitchen\n", "other.yaml")
    state = read_directory(tmp_path, load_agent, check_permissions=False)
    assert list(state.configs) == ["kitchen"] and state.failed_paths == [tmp_path / "other.yaml"]
    assert [(Path(e.location.path).name, position(e)) for e in state.errors] == [("other.yaml", "3:7")]


def test_examples_can_be_copied_anywhere(tmp_path: Path) -> None:
    shutil.copytree(AGENTS, tmp_path / "agents", ignore=shutil.ignore_patterns("__pycache__"))
    agents, errors = load_directory(tmp_path / "agents")
    assert errors == [] and len(agents) == 3


def test_file_name_that_is_no_slug_needs_a_name(tmp_path: Path) -> None:
    from tests.foundation.helpers import only_error

    error = only_error(write(tmp_path, f"model: {MODEL}\n", "Living Room.yaml"))
    assert position(error) == "1:1"
    assert "`Living Room` cannot be the agent's name" in error.message
    assert load_agent(write(tmp_path, f"model: {MODEL}\nname: living-room\n", "Living Room.yaml")).name == "living-room"
