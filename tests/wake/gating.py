"""Running a `WakeGate` over a scene and finding out which audio it let through, and when."""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.wake.gate import WakeGate
from runtime.wake.lifecycle import ConversationEvent, ConversationState
from tests.wake.scenes import BLOCK, RATE, EndOfAudio, Scene


@dataclass
class GateRun:
    """What a session reading the gate would have sent: blocks (by their start in the scene) and events."""

    starts_s: list[float] = field(default_factory=list)
    events: list[tuple[ConversationEvent, int]] = field(default_factory=list)
    """Each event with the number of blocks returned before it."""

    def events_of(self, state: ConversationState) -> list[ConversationEvent]:
        return [event for event, _ in self.events if event.state is state]

    def returned_before(self, event: ConversationEvent) -> int:
        return next(count for seen, count in self.events if seen is event)

    def segments(self) -> list[tuple[float, float]]:
        """Contiguous stretches of returned audio: (start, end) in scene seconds."""
        spans: list[tuple[float, float]] = []
        for start in self.starts_s:
            if spans and abs(spans[-1][1] - start) < 1e-6:
                spans[-1] = (spans[-1][0], start + BLOCK / RATE)
            else:
                spans.append((start, start + BLOCK / RATE))
        return spans


def block_starts(scene: Scene) -> dict[bytes, float]:
    pcm = scene.pcm()
    size = BLOCK * 2
    return {pcm[i : i + size]: i / 2 / RATE for i in range(0, len(pcm) - size + 1, size)}


async def run_gate(gate: WakeGate, scene: Scene) -> GateRun:
    """Read the gate until the scene's WAV file ends, like a session's uplink would."""
    where = block_starts(scene)
    run = GateRun()
    gate.add_listener(lambda event: run.events.append((event, len(run.starts_s))))
    await gate.open()
    try:
        while True:
            run.starts_s.append(where[await gate.read()])
    except EndOfAudio:
        pass
    finally:
        await gate.close()
    return run
