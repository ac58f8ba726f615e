"""Reload planning without a file system: only what changed is touched; a broken file keeps its agent."""

from __future__ import annotations

from pathlib import Path

from runtime.agentfile.resolved_tools import dependency_files
from runtime.agentfile.spec import AgentSpec
from runtime.daemon.reload import AgentConfig, Plan, diff, fingerprint, keep_last_good, relevant


def test_diff_starts_new_stops_vanished_restarts_changed_and_leaves_the_rest() -> None:
    old = {"kitchen": "a", "desk": "b", "hall": "c"}
    new = {"kitchen": "a", "desk": "B", "garage": "d"}
    assert diff(old, new) == Plan(start=("garage",), stop=("hall",), restart=("desk",))


def test_diff_of_identical_configs_is_empty() -> None:
    plan = diff({"kitchen": "a"}, {"kitchen": "a"})
    assert plan.empty and str(plan) == "no change"


def test_plan_reads_as_a_sentence() -> None:
    assert str(Plan(start=("a",), restart=("b", "c"))) == "start a; restart b, c"


def _config(name: str, path: str, print_: str) -> AgentConfig[str]:
    return AgentConfig(name=name, path=Path(path), agent=name, fingerprint=print_)


def test_an_invalid_edit_keeps_the_last_good_config() -> None:
    old = {"kitchen": _config("kitchen", "/a/kitchen.yaml", "1"), "desk": _config("desk", "/a/desk.yaml", "2")}
    new = {"desk": _config("desk", "/a/desk.yaml", "2")}
    kept = keep_last_good(old, new, failed_paths=[Path("/a/kitchen.yaml")])
    assert kept == old
    assert diff(old, kept).empty


def test_a_deleted_file_is_not_kept() -> None:
    old = {"kitchen": _config("kitchen", "/a/kitchen.yaml", "1")}
    assert keep_last_good(old, {}, failed_paths=[]) == {}


def test_a_failed_new_file_does_not_replace_a_valid_agent_of_the_same_name() -> None:
    old = {"kitchen": _config("kitchen", "/a/kitchen.yaml", "1")}
    new = {"kitchen": _config("kitchen", "/a/kitchen.yaml", "2")}
    assert keep_last_good(old, new, failed_paths=[Path("/a/kitchen.yaml")])["kitchen"].fingerprint == "2"


def _spec(**extra: object) -> AgentSpec:
    return AgentSpec.model_validate({"model": "gemini-3.8-live", **extra})


def _fingerprint(spec: AgentSpec, base_dir: Path) -> str:
    """As the daemon takes it: the spec and the files its tools run from (`LoadedAgent.depends_on`)."""
    return fingerprint(spec, dependency_files(spec, base_dir), base_dir=base_dir)


def test_fingerprint_follows_the_spec_and_the_tool_module_source(tmp_path: Path) -> None:
    spec = _spec(tools=[{"name": "set_timer", "python": "kitchen_tools:set_timer"}])
    module = tmp_path / "kitchen_tools.py"
    module.write_text("def set_timer(minutes: int) -> dict: return {}\n")
    first = _fingerprint(spec, tmp_path)
    assert _fingerprint(spec, tmp_path) == first
    assert dependency_files(spec, tmp_path) == (module,)
    module.write_text("def set_timer(minutes: int) -> dict: return {'ok': True}\n")
    assert _fingerprint(spec, tmp_path) != first
    assert _fingerprint(_spec(), tmp_path) != _fingerprint(_spec(instructions="hi"), tmp_path)


def test_fingerprint_ignores_python_files_the_agent_does_not_use(tmp_path: Path) -> None:
    spec = _spec()
    before = _fingerprint(spec, tmp_path)
    (tmp_path / "other_tools.py").write_text("x = 1\n")
    assert _fingerprint(spec, tmp_path) == before


def test_tool_packages_count_with_every_module_inside(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "__init__.py").write_text("")
    (tmp_path / "home" / "lights.py").write_text("def on() -> None: ...\n")
    spec = _spec(tools=[{"name": "on", "python": "home.lights:on"}])
    assert [p.name for p in dependency_files(spec, tmp_path)] == ["__init__.py", "lights.py"]
    before = _fingerprint(spec, tmp_path)
    (tmp_path / "home" / "lights.py").write_text("def on() -> None: print('on')\n")
    assert _fingerprint(spec, tmp_path) != before


def test_editor_droppings_are_not_relevant() -> None:
    assert relevant("/a/kitchen.yaml") and relevant("/a/desk.yml") and relevant("/a/kitchen_tools.py")
    for path in ("/a/.kitchen.yaml.swp", "/a/kitchen.yaml~", "/a/4913", "/a/.#kitchen.yaml", "/a/x.pyc",
                 "/a/__pycache__/k.py", "/a/.kitchen.yaml.tmp"):
        assert not relevant(path), path
