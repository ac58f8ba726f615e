"""Prometheus' own checker on what runtime ships and serves: the metrics page (`promtool check metrics`), the
alert rules (`promtool check rules`) and their behaviour on made-up series (`promtool test rules`).
`scripts/setup.sh test` installs promtool (Debian's `prometheus` package)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from prometheus_client import generate_latest

from runtime.daemon.events import AgentState, AgentStateChanged, GateChanged, Reloading
from runtime.daemon.metrics import MetricsRecorder, build_registry
from runtime.live.events import SessionState, ToolOutcome, Usage

REPO = Path(__file__).parents[2]
RULES = REPO / "docs" / "monitoring" / "runtime-alerts.yml"


def promtool(*args: str, stdin: str | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    beside = Path(sys.executable).with_name("promtool")  # scripts/setup.sh test puts it in the venv
    tool = str(beside) if beside.exists() else shutil.which("promtool")
    assert tool, "promtool is missing: run scripts/setup.sh test (it takes it from Debian's prometheus package)"
    return subprocess.run([tool, *args], input=stdin, capture_output=True, text=True, timeout=60, cwd=cwd,
                          check=False)


def busy_page() -> str:
    """A page with every family of ours holding samples."""
    recorder = MetricsRecorder()
    registry = build_registry(recorder, dict)
    recorder.apply(AgentStateChanged("kitchen", AgentState.RUNNING))
    recorder.apply(GateChanged("kitchen", "in conversation"))
    recorder.apply(GateChanged("kitchen", "listening for okay_nabu"))
    recorder.apply(Reloading("edit", 0))
    for state, detail in ((SessionState.READY, ""), (SessionState.HANDOVER, "goAway timer"), (SessionState.READY, ""),
                          (SessionState.RECONNECTING, "close code 1011: overloaded")):
        recorder.state("kitchen", state, detail)
    recorder.tool_call("kitchen", ToolOutcome("set_timer", "c1", {}, {"status": "ok"}, 0.02, True))
    recorder.usage("kitchen", Usage(100, 60, 160, {"audio": 60}))
    return generate_latest(registry).decode()


def test_the_metrics_page_passes_promtool_check_metrics() -> None:
    checked = promtool("check", "metrics", stdin=busy_page())
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == "", "no lint warning either"


def test_the_alert_rules_pass_promtool_check_rules() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout


def test_the_alert_rules_fire_as_documented() -> None:
    tested = promtool("test", "rules", "alerts_test.yml", cwd=REPO / "tests" / "daemon")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_dashboard_and_the_rules_only_query_families_the_daemon_exports() -> None:
    import json
    import re

    exported = {line.split("{")[0].split(" ")[0] for line in busy_page().splitlines() if not line.startswith("#")}
    exported |= {"runtime_agent_state", "runtime_speaker_underruns_total", "runtime_mic_frames_dropped_total",
                 "runtime_conversations_total"}  # read from sessions / gates: empty on the made-up page
    dashboard = json.loads((REPO / "docs" / "monitoring" / "runtime-dashboard.json").read_text())
    assert dashboard["uid"] == "runtime-agents" and dashboard["panels"]
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    queries.append(RULES.read_text())
    used = {name for query in queries for name in re.findall(r"\b((?:runtime|process)_[a-z_]+)", query)}
    assert used and used <= exported, f"not exported: {sorted(used - exported)}"
