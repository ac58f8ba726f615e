"""A daemon restart resumes the conversation from the handle in the state directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.audio.files import NullIn, NullOut
from runtime.emulator import EmulatorOptions, serve
from tests.live.conftest import Recorder, agent, running


@pytest.mark.anyio
async def test_a_new_session_with_the_same_state_dir_resumes_the_conversation(tmp_path: Path) -> None:
    spec = agent(response="text")
    first, second = Recorder(), Recorder()
    async with serve(EmulatorOptions(port=0)) as emulator:
        async with running(spec, emulator, tmp_path, NullIn(), NullOut(), events=first) as session:
            await session.send_text("remember the number 7")
            await first.until(lambda: bool(first.states("turn_complete")))
            await first.until(lambda: (tmp_path / "state" / "test.json").exists())
        stored = json.loads((tmp_path / "state" / "test.json").read_text())["handle"]
        async with running(spec, emulator, tmp_path, NullIn(), NullOut(), events=second) as restarted:
            await restarted.send_text("what was the number")
            await second.until(lambda: bool(second.states("turn_complete")))
        setups = [r["msg"]["setup"] for r in emulator.records if "setup" in r["msg"]]
    assert setups[0]["sessionResumption"] == {}
    assert setups[1]["sessionResumption"] == {"handle": stored}
    assert emulator.connections == 2
    assert second.states("connecting") == ["resuming"]
    assert not second.states("reconnecting")


@pytest.mark.anyio
async def test_resumption_off_never_stores_or_sends_a_handle(tmp_path: Path) -> None:
    spec = agent(response="text", session={"resumption": False})
    events = Recorder()
    async with serve(EmulatorOptions(port=0)) as emulator, running(
        spec, emulator, tmp_path, NullIn(), NullOut(), events=events
    ) as session:
        await session.send_text("hello")
        await events.until(lambda: bool(events.states("turn_complete")))
        setup = emulator.records[0]["msg"]["setup"]
    assert "sessionResumption" not in setup
    assert not (tmp_path / "state" / "test.json").exists()
