"""An audio session without context compression ends at the service's session limit (15 minutes, scaled down
here); the agent must carry on in a new session, not resume into the same limit again and again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.chaos.analysis import index_wire
from tests.chaos.frames import SpeechPattern
from tests.chaos.rig import Rig, emulator_options, make_agents, running

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

LIMIT_S = 4.0
RUN_S = 16.0


def test_a_session_that_reached_its_length_limit_goes_on_as_a_new_one(tmp_path: Path) -> None:
    extra = "context: {compression: {enabled: false}}\n"
    agents = make_agents(tmp_path / "agents", ["u1"], RUN_S + 30, SpeechPattern(), extra=extra)
    with running(tmp_path, agents, emulator_options(100, session_limit_s=LIMIT_S)) as rig:
        time.sleep(RUN_S)
        limits = [e for e in rig.fault_log.events if e.kind.startswith("session limit")]
        # The run may end just as a limit closed a session: the new one is given 10 s to bring audio again.
        checked = time.monotonic()
        while (latest := latest_audio(rig)) <= checked and time.monotonic() < checked + 10:
            time.sleep(0.1)
        fresh = latest > checked
        connections = len(index_wire(list(rig.emulator.records), list(rig.emulator.sent)).ready)
    print(f"\n{len(limits)} session-limit closes in {RUN_S:g} s ({LIMIT_S:g} s limit), {connections} connections")
    assert limits, "the scaled session limit was reached"
    assert len(limits) <= RUN_S / LIMIT_S + 1, "each new session lasts its full length, no resume loop"
    assert fresh, "the microphone still reaches the service"


def latest_audio(rig: Rig) -> float:
    """When the emulator last received microphone audio (monotonic clock; 0 before any)."""
    wire = index_wire(list(rig.emulator.records), list(rig.emulator.sent))
    return max((t for chunks in wire.audio.values() for t, _ in chunks), default=0.0)
