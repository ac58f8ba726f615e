"""The fleet's deploy step, `systemd/runtime-pull-agents`, as shipped: 50 commits of an agent repository deployed
one after another by swapping the agents symlink under a running daemon that reloads on each (SIGHUP), without
waiting for one reload to end before the next swap. Every tree the daemon reads must be whole: each commit's
agent file names a tool module that exists only in that commit, so a tree read half old and half new would
fail to import and be refused. Counted from the daemon's own metrics and log."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daemon.harness import MODEL, start_daemon, write_silence
from tests.daemon.test_metrics_process import get, metrics_url, samples, value, wait_for

pytestmark = pytest.mark.timeout(240)

SCRIPT = Path(__file__).parents[2] / "systemd" / "runtime-pull-agents"
RUNTIME = Path(sys.executable).with_name("runtime")
SWAPS = 50


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=30)


def commit_version(repo: Path, version: int) -> None:
    """Version `version` of the agent: its file and the one module it names, changed together."""
    for old in repo.glob("tools_v*.py"):
        old.unlink()
    (repo / f"tools_v{version}.py").write_text(
        f'def ping() -> dict[str, int]:\n    """Which version answers."""\n    return {{"version": {version}}}\n')
    (repo / "alpha.yaml").write_text(
        f"name: alpha\nmodel: {MODEL}\ninstructions: Version {version}.\n"
        "audio:\n  input: {device: 'file:silence.wav'}\n  output: {device: 'file:alpha-out.wav'}\n"
        f"tools:\n  - name: ping\n    python: tools_v{version}:ping\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"version {version}")


def pull(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)


def agents_repo(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A git repository holding version 0 of the agent, the symlink to deploy it behind, and the pull script's
    environment (validating with this checkout's runtime, reloading nothing yet)."""
    repo = tmp_path / "agents-repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "fleet@example.invalid")
    git(repo, "config", "user.name", "fleet")
    write_silence(repo / "silence.wav")
    commit_version(repo, 0)
    link = tmp_path / "agents"
    env = {**os.environ, "RUNTIME_AGENTS_REPO": str(repo), "RUNTIME_AGENTS_ROOT": str(tmp_path / "deploy"),
           "RUNTIME_AGENTS_LINK": str(link), "RUNTIME_VALIDATE": f"{RUNTIME} validate", "RUNTIME_RELOAD": "true"}
    return repo, link, env


def test_fifty_symlink_swaps_under_a_reloading_daemon_are_never_refused_or_half_read(tmp_path: Path) -> None:
    repo, link, env = agents_repo(tmp_path)
    first = pull(env)
    assert first.returncode == 0, first.stderr
    daemon = start_daemon(link, tmp_path, "--backend", "emulator", "--metrics", "127.0.0.1:0")
    try:
        daemon.notify.expect("READY")
        base = metrics_url(daemon)
        env["RUNTIME_RELOAD"] = f"kill -HUP {daemon.process.pid}"
        for version in range(1, SWAPS + 1):
            commit_version(repo, version)
            deployed = pull(env)
            assert deployed.returncode == 0, deployed.stderr
            assert (link / f"tools_v{version}.py").exists()
        wait_for(base, lambda p: value(p, "runtime_agent_state", agent="alpha", state="running") == 1
                        and value(p, "runtime_reloads_total", outcome="applied") >= 1, "the last version running")
        # One more reload, after every swap: by its end the daemon has read the last tree. Counted from before it,
        # so an "unchanged" from the swaps' own reloads does not stand in for it.
        settled = value(samples(base), "runtime_reloads_total", outcome="unchanged")
        daemon.signal(signal.SIGHUP)
        wait_for(base, lambda p: value(p, "runtime_reloads_total", outcome="unchanged") > settled, "a settled reload")
        # The last applied reload may still be reconnecting alpha (healthz is 503 while an agent connects): wait for
        # it to run, then healthz must say so.
        page = wait_for(base, lambda p: value(p, "runtime_agent_state", agent="alpha", state="running") == 1,
                        "alpha running after the last reload")
        assert value(page, "runtime_reloads_total", outcome="refused_invalid") == 0
        assert not daemon.matching(r"error: "), "\n".join(daemon.matching(r"error: "))
        running = daemon.matching(r"reload \(.*\): restart alpha")
        assert running, "the swaps were applied"
        assert healthy(base), "healthz answers 200 once alpha runs"
        releases = sorted(p.name for p in (tmp_path / "deploy" / "releases").iterdir())
        assert len(releases) <= 3, f"old releases pruned: {releases}"
        assert re.fullmatch(r"[0-9a-f]{40}", link.resolve().name)
    finally:
        assert daemon.stop() == 0


def healthy(base: str, timeout_s: float = 30.0) -> bool:
    """True once /healthz answers 200 (an agent that just restarted may still be connecting: 503 meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while get(base + "/healthz")[0] != 200:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_commit_that_does_not_validate_is_not_deployed(tmp_path: Path) -> None:
    repo, link, env = agents_repo(tmp_path)
    assert pull(env).returncode == 0
    good = link.resolve()
    (repo / "alpha.yaml").write_text((repo / "alpha.yaml").read_text() + "voice: {name: [Kore\n")
    git(repo, "commit", "-q", "-am", "broken")
    refused = pull(env)
    assert refused.returncode == 1 and "does not validate; not deployed" in refused.stderr
    assert link.resolve() == good
    assert not list((tmp_path / "deploy" / "releases").glob(".incoming-*"))
