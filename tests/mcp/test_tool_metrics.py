"""`runtime_tool_calls_total` and `runtime_tool_call_seconds` label an agent's MCP tools and built-in tools by
name; a name the model made up stays `unknown`. A real session against the emulator (real SDK), a real stdio
MCP server, the daemon's metrics recorder as one more receiver of the session's events, the page parsed by
prometheus-client's parser.

The emulator, like the service, never calls a function the session did not declare (it skips such a scenario
step), so the made-up name goes through the agent's real `ToolRunner` directly, as the session would run it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from runtime.agentfile.loader import load_agent
from runtime.audio.files import NullIn, NullOut
from runtime.daemon.events import AgentsHosted
from runtime.daemon.metrics import MetricsRecorder
from runtime.emulator import EmulatorOptions, parse_scenario, serve
from runtime.live.events import SessionState, ToolOutcome
from runtime.live.tools import ToolRunner
from tests.live.conftest import MODEL, Recorder, running
from tests.mcp.servers import stdio_entry

pytestmark = pytest.mark.anyio

STEPS: list[dict[str, Any]] = [
    {"tool_call": {"name": "home_turn_on", "args": {"room": "kitchen"}}},
    {"tool_call": {"name": "home_broken", "args": {}}},
    {"search": {"query": "sunset Oslo", "sources": [{"title": "yr.no", "uri": "https://www.yr.no/"}]}},
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Metered(Recorder):
    """The test's recorder, handing every event to the daemon's metrics recorder as well."""

    def __init__(self, metrics: MetricsRecorder) -> None:
        super().__init__()
        self.metrics = metrics

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        self.metrics.tool_call(agent, outcome)
        super().tool_call(agent, outcome)

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        self.metrics.state(agent, state, detail)
        super().state(agent, state, detail)


def tool_samples(metrics: MetricsRecorder) -> dict[tuple[str, str, str], float]:
    page = generate_latest(metrics.registry).decode()
    found: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "runtime_tool_calls_total":
                found[sample.labels["tool"], sample.labels["outcome"], "calls"] = sample.value
            elif sample.name == "runtime_tool_call_seconds_count":
                found[sample.labels["tool"], "", "timed"] = sample.value
    return found


async def test_mcp_and_built_in_tools_are_labelled_by_name_and_made_up_names_are_unknown(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    file = agents / "home.yaml"
    file.write_text(yaml.safe_dump({"model": MODEL, "response": "text", "tools": [
        stdio_entry(tmp_path, prefix="home_", include=["turn_on", "broken"]), {"google_search": {}},
    ]}))
    file.chmod(0o644)
    loaded = load_agent(file)
    metrics = MetricsRecorder()
    metrics.apply(AgentsHosted((loaded,)))
    events = Metered(metrics)
    rules = [{"when": {"text": f"call {i}"}, "then": [step, {"say": "Done."}]} for i, step in enumerate(STEPS)]
    options = EmulatorOptions(port=0, scenario_obj=parse_scenario({"rules": rules}))
    async with serve(options) as emulator, running(
        loaded.spec, emulator, tmp_path, NullIn(), NullOut(), events=events, name="home"
    ) as session:
        for i in range(len(STEPS)):
            await session.send_text(f"call {i}")
            await events.until(lambda i=i: len(events.states("turn_complete")) > i, timeout_s=60)
    made_up = await ToolRunner(loaded.tools).call("launch_rockets", "call-x", {"count": 3})
    assert not made_up.declared
    events.tool_call("home", made_up)
    assert [outcome.name for outcome in events.of("tool")] == [
        "home_turn_on", "home_broken", "google_search", "launch_rockets"]
    assert tool_samples(metrics) == {
        ("home_turn_on", "ok", "calls"): 1, ("home_turn_on", "", "timed"): 1,
        ("home_broken", "error", "calls"): 1, ("home_broken", "", "timed"): 1,
        ("unknown", "error", "calls"): 1, ("unknown", "", "timed"): 1,
        ("google_search", "ok", "calls"): 1, ("google_search", "", "timed"): 1,
    }
