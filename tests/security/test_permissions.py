"""Agent files and secrets other users could change are refused, as sshd refuses loose key files."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from runtime.errors import AgentRuntimeError
from runtime.guards.permissions import (
    InsecurePermissionsError,
    check_private,
    collect_problems,
    ensure_safe_permissions,
)

OTHER_UID = 4242


@pytest.fixture
def agents(tmp_path: Path) -> Path:
    """A private agent directory: YAML, a tool module, its bytecode cache, a secrets directory."""
    directory = tmp_path / "agents"
    directory.mkdir(mode=0o755)
    (directory / "kitchen.yaml").write_text("model: gemini-3.8-live\n")
    (directory / "kitchen_tools.py").write_text("def set_timer(minutes: int) -> str:\n    return 'ok'\n")
    (directory / "__pycache__").mkdir()
    (directory / "__pycache__" / "kitchen_tools.cpython-311.pyc").write_bytes(b"\0")
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "weather_token").write_text("tok3n\n")
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (secrets / "weather_token").chmod(0o600)
    return directory


def test_a_private_agent_directory_passes(agents: Path) -> None:
    assert collect_problems([agents], [agents.parent / "secrets"]) == []
    ensure_safe_permissions([agents], insecure=False, secrets=[agents.parent / "secrets"])


@pytest.mark.parametrize(
    ("relative", "mode", "expected"),
    [
        ("kitchen.yaml", 0o664, "writable by its group"),
        ("kitchen.yaml", 0o646, "writable by everyone"),
        ("kitchen_tools.py", 0o666, "writable by everyone"),
        (".", 0o775, "writable by its group"),
        (".", 0o777, "writable by everyone"),
        ("__pycache__", 0o757, "writable by everyone"),
        ("__pycache__/kitchen_tools.cpython-311.pyc", 0o662, "writable by its group"),
    ],
)
def test_files_others_can_write_are_refused(agents: Path, relative: str, mode: int, expected: str) -> None:
    target = agents / relative
    target.chmod(mode)
    with pytest.raises(InsecurePermissionsError) as caught:
        ensure_safe_permissions([agents], insecure=False)
    assert isinstance(caught.value, AgentRuntimeError)
    message = str(caught.value)
    assert str(target) in message
    assert expected in message
    assert "--insecure-permissions" in message
    assert "chmod" in message


def test_a_secret_readable_by_others_is_refused(agents: Path) -> None:
    token = agents.parent / "secrets" / "weather_token"
    token.chmod(0o644)
    problems = check_private(token, secret=True)
    assert problems == [f"{token}: a secret readable by other users (mode 0644); run `chmod 600 {token}`"]
    with pytest.raises(InsecurePermissionsError, match="readable by other users"):
        ensure_safe_permissions([agents], insecure=False, secrets=[agents.parent / "secrets"])


def test_the_same_mode_on_an_agent_file_is_not_a_secret_problem(agents: Path) -> None:
    assert check_private(agents / "kitchen.yaml") == []


def test_files_owned_by_another_user_are_refused(agents: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    tools = agents / "kitchen_tools.py"
    os.chown(tools, OTHER_UID, -1)
    assert check_private(tools) == [
        f"{tools}: owned by uid {OTHER_UID}, not by root or the user running runtime (uid {os.geteuid()})"
    ]


def test_a_writable_parent_directory_is_refused_unless_sticky(agents: Path) -> None:
    parent = agents.parent
    parent.chmod(0o777)
    try:
        assert any(f"{parent}: writable by other users" in p for p in check_private(agents / "kitchen.yaml"))
        parent.chmod(0o1777)
        assert check_private(agents / "kitchen.yaml") == []
    finally:
        parent.chmod(0o755)


def test_a_symlink_is_judged_by_the_file_it_points_to(agents: Path, tmp_path: Path) -> None:
    loose = tmp_path / "loose.yaml"
    loose.write_text("model: x\n")
    loose.chmod(0o666)
    link = agents / "linked.yaml"
    link.symlink_to(loose)
    assert any("writable by everyone" in p for p in check_private(link))


def test_insecure_permissions_turns_the_refusal_into_warnings(agents: Path, caplog: pytest.LogCaptureFixture) -> None:
    (agents / "kitchen.yaml").chmod(0o666)
    with caplog.at_level(logging.WARNING, logger="runtime.guards.permissions"):
        ensure_safe_permissions([agents], insecure=True)
    assert any("insecure permissions accepted" in r.getMessage() for r in caplog.records)


def test_every_problem_is_reported_at_once(agents: Path) -> None:
    (agents / "kitchen.yaml").chmod(0o666)
    (agents / "kitchen_tools.py").chmod(0o664)
    with pytest.raises(InsecurePermissionsError) as caught:
        ensure_safe_permissions([agents], insecure=False)
    assert len(caught.value.problems) == 3  # yaml: group and everyone; module: group


def test_a_missing_path_has_no_permission_problem(tmp_path: Path) -> None:
    assert check_private(tmp_path / "nope") == []
