"""Gemini's own tools against the emulator: declared in the setup, refused where the model lacks them, and their
work (grounding metadata, code and its result) reported like any tool call."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.audio.files import NullIn, NullOut
from runtime.daemon.console import format_tool
from runtime.emulator import EmulatorOptions, parse_scenario, serve
from runtime.errors import FatalSessionError
from tests.live.conftest import Recorder, agent, running

pytestmark = pytest.mark.anyio
CODE_MODEL = "gemini-live-2.5-flash-preview"
"""The one catalogue model with `code_execution` (shut down: the emulator serves it on request)."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def options(**extra: object) -> EmulatorOptions:
    rules = [
        {"when": {"text": "weather"}, "then": [
            {"search": {"query": "weather Oslo today", "sources": [{"title": "yr.no", "uri": "https://www.yr.no/"}]}},
            {"say": "It is sunny in Oslo."}]},
        {"when": {"text": "sum"}, "then": [
            {"run_code": {"code": "print(sum(range(101)))", "output": "5050\n"}},
            {"say": "The sum is 5050."}]},
    ]
    return EmulatorOptions(port=0, scenario_obj=parse_scenario({"rules": rules}), **extra)  # type: ignore[arg-type]


async def test_search_grounding_and_code_execution_are_shown_like_tool_calls(tmp_path: Path) -> None:
    spec = agent(model=CODE_MODEL, response="text", tools=[{"google_search": {}}, {"code_execution": {}}])
    events = Recorder()
    async with serve(options(accept_any_model=True)) as emulator, running(
        spec, emulator, tmp_path, NullIn(), NullOut(), events=events
    ) as session:
        await session.send_text("what is the weather")
        await events.until(lambda: len(events.states("turn_complete")) > 0)
        await session.send_text("sum the numbers to 100")
        await events.until(lambda: len(events.states("turn_complete")) > 1)
        setup = emulator.records[0]["msg"]["setup"]
    assert {"googleSearch": {}} in setup["tools"] and {"codeExecution": {}} in setup["tools"]
    search, code = events.of("tool")
    assert search.name == "google_search" and search.args == {"queries": ["weather Oslo today"]}
    assert search.result == {"sources": [{"title": "yr.no", "uri": "https://www.yr.no/"}]}
    assert code.name == "code_execution" and code.args == {"code": "print(sum(range(101)))"}
    assert code.result == {"outcome": "OUTCOME_OK", "output": "5050\n"} and code.ok
    assert "code_execution(code=" in format_tool(code) and "5050" in format_tool(code)
    assert "".join(events.of("text")).endswith("The sum is 5050.")


async def test_the_emulator_refuses_code_execution_on_a_model_without_it(tmp_path: Path) -> None:
    spec = agent(response="text", tools=[{"code_execution": {}}])
    with pytest.RaisesGroup(pytest.RaisesExc(FatalSessionError, match="close code 1007"), flatten_subgroups=True):
        async with serve(options()) as emulator, running(spec, emulator, tmp_path, NullIn(), NullOut()):
            pass
