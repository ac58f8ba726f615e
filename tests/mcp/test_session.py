"""An agent with MCP servers and built-in tools run against the emulator with the real SDK: the model gets the
servers' tools as function declarations, its calls reach the servers, the Live session outlives a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.audio.files import NullIn, NullOut
from runtime.emulator import EmulatorOptions, parse_scenario, serve
from tests.live.conftest import Recorder, agent, running
from tests.live.test_session import tool_responses
from tests.mcp.servers import http_server, pids, stdio_entry

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def scenario(calls: list[tuple[str, dict[str, Any]]]) -> EmulatorOptions:
    rules = [{"when": {"text": f"call {i}"}, "then": [{"tool_call": {"name": name, "args": args}},
                                                    {"say_tool_result": name}]}
             for i, (name, args) in enumerate(calls)]
    return EmulatorOptions(port=0, scenario_obj=parse_scenario({"rules": rules}))


def declarations(emulator: Any) -> dict[str, dict[str, Any]]:
    setup = emulator.records[0]["msg"]["setup"]
    found = [d for tool in setup["tools"] for d in tool.get("functionDeclarations", [])]
    return {declaration["name"]: declaration for declaration in found}


async def test_an_agent_answers_by_calling_its_stdio_and_http_mcp_tools(tmp_path: Path) -> None:
    calls = [("home_turn_on", {"room": "kitchen"}), ("ha_thermostat", {"celsius": 19}),
             ("home_broken", {}), ("home_turn_on", {"room": 3}), ("home_wait_forever", {})]
    events = Recorder()
    with http_server(tmp_path / "http") as url:
        spec = agent(response="text", tools=[
            stdio_entry(tmp_path, prefix="home_", exclude=["crash", "environment"],
                        overrides={"wait_forever": {"timeout_s": 0.3}}),
            {"mcp": {"url": url, "prefix": "ha_", "include": ["thermostat"]}},
            {"google_search": {}},
        ])
        async with serve(scenario(calls)) as emulator:
            async with running(spec, emulator, tmp_path, NullIn(), NullOut(), events=events) as session:
                for i in range(len(calls)):
                    await session.send_text(f"call {i}")
                    await events.until(lambda i=i: len(events.states("turn_complete")) > i, timeout_s=60)
            declared = declarations(emulator)
            results = [response["response"] for response in tool_responses(emulator)]
            tools = emulator.records[0]["msg"]["setup"]["tools"]
    assert declared["home_turn_on"]["description"] == "Turn on the lights of a room."
    assert "ha_thermostat" in declared and "home_crash" not in declared
    assert {"googleSearch": {}} in tools
    assert results[0] == {"result": "lights on in kitchen"}
    assert results[1] == {"set_to": 19.0, "unit": "C"}
    assert "the bulb is gone" in results[2]["error"]
    assert results[3]["error"].startswith("invalid arguments"), "checked against the schema before the call"
    assert results[4] == {"error": "tool home_wait_forever timed out after 0.3 s"}
    assert "lights on in kitchen" in "".join(events.of("text"))
    assert [outcome.ok for outcome in events.of("tool")] == [True, True, False, False, False]


async def test_a_crashed_mcp_server_is_restarted_while_the_live_session_stays_up(tmp_path: Path) -> None:
    calls = [("crash", {})] + [("turn_on", {"room": "hall"})] * 40
    events = Recorder()
    spec = agent(response="text", tools=[stdio_entry(tmp_path)])
    async with serve(scenario(calls)) as emulator, running(
        spec, emulator, tmp_path, NullIn(), NullOut(), events=events
    ) as session:
        for i in range(len(calls)):
            await session.send_text(f"call {i}")
            await events.until(lambda i=i: len(events.states("turn_complete")) > i, timeout_s=60)
            if i and events.of("tool")[-1].ok:
                break
        connections = session.stats.connections
    outcomes = events.of("tool")
    assert not outcomes[0].ok and outcomes[-1].ok
    assert outcomes[-1].result == {"result": "lights on in hall"}
    assert connections == 1, "the Live session never dropped"
    assert len(pids(tmp_path)) == 2


async def test_a_changed_tool_list_is_declared_on_a_resumed_connection_at_the_next_turn_boundary(
    tmp_path: Path,
) -> None:
    calls = [("grow", {}), ("dim", {"room": "hall", "percent": 40})]
    events = Recorder()
    spec = agent(response="text", tools=[stdio_entry(tmp_path)])
    async with serve(scenario(calls)) as emulator, running(
        spec, emulator, tmp_path, NullIn(), NullOut(), events=events
    ) as session:
        await session.send_text("call 0")
        await events.until(lambda: len(events.states("turn_complete")) > 0, timeout_s=60)
        await events.until(lambda: session.stats.connections == 2, timeout_s=60)
        await session.send_text("call 1")
        await events.until(lambda: len(events.states("turn_complete")) > 1, timeout_s=60)
        setups = [record["msg"]["setup"] for record in emulator.records if "setup" in record["msg"]]
    first, second = ({d["name"] for tool in setup["tools"] for d in tool.get("functionDeclarations", [])}
                     for setup in setups)
    assert "dim" not in first and "dim" in second
    assert second - first == {"dim"}
    assert session.stats.handovers, "a handover, not a drop"
    assert session.stats.reconnects == 0
    assert second and setups[1]["sessionResumption"].get("handle")
    assert events.of("tool")[-1].result == {"result": "hall at 40%"}
