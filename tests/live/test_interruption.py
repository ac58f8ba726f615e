"""A barge-in through a real AgentSession and the real SDK: the interrupted turn's own `turnComplete` (which
the service sends after `interrupted`, sometimes late) closes that turn and nothing else — the next reply
is not cut, no turn is counted twice, and no handover slips into the next answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime.audio.files import NullIn
from runtime.emulator import EmulatorOptions, Fault, parse_scenario, serve
from tests.live.conftest import Recorder, agent, running

pytestmark = pytest.mark.anyio

STORY = "Once upon a time there was a tiny robot who loved music and sang all day long."
ANSWER = "Okay, I will stop the story here."
SCENARIO = parse_scenario({"rules": [
    {"when": {"text": "story"}, "then": [{"say": STORY}]},
    {"when": {"text": "stop"}, "then": [{"say": ANSWER}]},
]})
BYTES_PER_CHAR = 60 * 48
"""The emulator's voice: 60 ms of 24 kHz PCM16 per character."""
ORDERS = {"in order": (), "late": (Fault(action="late_turn_complete"),)}
"""The interrupted turn's turnComplete right after `interrupted`, or after the next reply's first message."""


class CallLog:
    """An `AudioOut` that keeps the order of what the session asked of the speaker."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def open(self) -> None: ...

    def write(self, pcm: bytes) -> None:
        self.calls.append(("write", len(pcm)))

    def flush(self) -> None:
        self.calls.append(("flush", 0))

    def end_of_turn(self) -> None:
        self.calls.append(("end_of_turn", 0))

    @property
    def playing(self) -> bool:
        return False

    @property
    def underruns(self) -> int:
        return 0

    async def close(self) -> None: ...

    def after_flush(self) -> list[tuple[str, int]]:
        flushed = max(i for i, (call, _) in enumerate(self.calls) if call == "flush")
        return self.calls[flushed + 1 :]


def spec() -> Any:
    # No output transcript: the next reply's first message is its audio, so a late turnComplete lands after it.
    return agent(session={"transcription": {"input": True, "output": False}})


@pytest.mark.parametrize("order", sorted(ORDERS))
async def test_the_next_reply_plays_whole_and_is_the_only_turn_counted(order: str, tmp_path: Path) -> None:
    events, speaker = Recorder(), CallLog()
    options = EmulatorOptions(scenario_obj=SCENARIO, faults=ORDERS[order])
    async with serve(options) as emulator, running(
        spec(), emulator, tmp_path, NullIn(), speaker, events=events
    ) as session:
        await session.send_text("tell me a story")
        await events.until(lambda: session.downlink.stats.audio_bytes > 0)
        await session.send_text("stop")
        await events.until(lambda: bool(events.states("turn_complete")))
        await events.until(lambda: len(events.of("usage")) == 2)
        sent = [entry["msg"] for entry in emulator.sent]
    completes = [m for m in sent if m.get("serverContent", {}).get("turnComplete")]
    assert len(completes) == 2, "the story's own turnComplete and the answer's"
    # Not cut: every byte of the answer reached the speaker before the one end_of_turn, which closes it.
    answer = speaker.after_flush()
    assert answer[-1] == ("end_of_turn", 0) and [call for call, _ in answer].count("end_of_turn") == 1
    assert sum(size for call, size in answer if call == "write") == len(ANSWER) * BYTES_PER_CHAR
    # Not miscounted: one completed turn, one interruption; both turns' usage is reported.
    assert session.downlink.stats.turns == 1 and len(session.downlink.stats.interruptions) == 1
    assert [state for state, _ in events.of("state") if state in ("interrupted", "turn_complete")] == [
        "interrupted", "turn_complete"
    ]
    assert not session.downlink.in_turn


async def test_a_late_turn_complete_opens_no_handover_window_in_the_next_answer(tmp_path: Path) -> None:
    """goAway arrives during the story; the story is interrupted; its turnComplete (and a fresh resumable
    handle) arrive after the answer's first chunk. The handover must wait for the answer's own end."""
    events, speaker = Recorder(), CallLog()
    options = EmulatorOptions(
        scenario_obj=SCENARIO, faults=ORDERS["late"], go_away_after_s=1.5,  # timeLeft 50 s: no deadline here
        audio_chunk_ms=200,  # 200 ms between the answer's chunks: a window a 20 ms poll cannot miss
    )
    async with serve(options) as emulator, running(
        spec(), emulator, tmp_path, NullIn(), speaker, events=events
    ) as session:
        await session.send_text("tell me a story")
        with anyio.fail_after(10):
            while not any("goAway" in entry["msg"] for entry in emulator.sent) or not session.downlink.in_turn:
                await anyio.sleep(0.01)  # the emulator has no event to wait on
        await session.send_text("stop")
        await events.until(lambda: bool(session.stats.handovers), timeout_s=20)
        states = [(at, value[0]) for at, kind, value in events.entries if kind == "state"]
    answer_done = next(at for at, state in states if state == "turn_complete")
    handover = next(at for at, state in states if state == "handover")
    assert answer_done <= handover
    assert events.states("handover") == ["resumable point after goAway"]
    assert sum(size for call, size in speaker.after_flush() if call == "write") == len(ANSWER) * BYTES_PER_CHAR
