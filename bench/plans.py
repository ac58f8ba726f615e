"""What each bench run plays into the microphone, what the emulator answers, and how long it lasts.

Every client (runtime, quick-start, Pipecat) runs the same plan against an emulator configured the same
way, so the figures differ only by how each client moves the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.devices import MicScript

BLOCK_S = 0.020
SPEECH_S = 0.5
"""Length of each utterance (a loud tone: the emulator's voice activity detection hears speech)."""
SILENCE_COMMIT_S = 0.5
"""The emulator's default end-of-speech silence (the quick-start sets no VAD options, so all use it)."""
REPLY = "the quick brown fox jumps over the lazy dog"
"""Every reply: about 60 ms per character in the emulator's voice, so 2.6 s of model audio."""
REPLY_S = len(REPLY) * 0.060
FIRST_SPEECH_S = 1.5
"""The first utterance, once the client is (usually) connected."""
DEADLINE = "Deadline expired before operation could complete."


def blocks(seconds: float) -> int:
    return round(seconds / BLOCK_S)


def scenario_document(turns: int) -> dict[str, Any]:
    """The emulator scenario: every detected utterance is answered with `REPLY`."""
    rule = {"when": {"text": "answer"}, "then": [{"say": REPLY}]}
    return {"speech_transcripts": ["please answer"] * turns, "rules": [rule]}


@dataclass(frozen=True)
class Plan:
    """One run: utterance start times, its length, and the emulator's connection settings."""

    name: str
    duration_s: float
    speech_starts_s: tuple[float, ...]
    go_away_after_s: float | None = None
    connection_limit_s: float | None = None
    faults: tuple[dict[str, Any], ...] = ()
    """Fault settings (as `runtime.emulator.options.Fault` keyword arguments)."""

    def mic_script(self) -> MicScript:
        return MicScript(speech=[(blocks(start), blocks(start + SPEECH_S)) for start in self.speech_starts_s])


def conversation(quick: bool) -> Plan:
    """Full replies first (downlink latency, underruns), then a chain of barge-ins (interrupt-to-silence).

    Each barge-in starts 1 s into the reply to the previous utterance, and is itself answered.
    """
    full_turns, barge_ins = (1, 2) if quick else (4, 20)
    starts: list[float] = []
    at = FIRST_SPEECH_S
    for _ in range(full_turns):
        starts.append(at)
        at += SPEECH_S + SILENCE_COMMIT_S + REPLY_S + 0.4
    cycle = SPEECH_S + SILENCE_COMMIT_S + 1.0
    starts.append(at)
    for _ in range(barge_ins):
        at += cycle
        starts.append(at)
    return Plan("conversation", duration_s=at + 0.6, speech_starts_s=tuple(starts))


def handover(quick: bool) -> Plan:
    """The model keeps talking while every connection gets `goAway` and the second one drops with 1011.

    `goAway` comes 1 s into each connection and leaves 15.5 s (the service leaves ~50 s): time for a client
    to finish the turn before switching, as it would with the real service. The first connection then
    closes with 1011 at 6 s, as the service closes one after goAway whether or not the client has left."""
    duration_s = 9.5 if quick else 30.0
    period_s = SPEECH_S + SILENCE_COMMIT_S + REPLY_S + 0.3
    starts = tuple(FIRST_SPEECH_S + k * period_s for k in range(int(duration_s / period_s) + 1))
    return Plan(
        "handover",
        duration_s=duration_s,
        speech_starts_s=starts,
        go_away_after_s=1.0,
        connection_limit_s=16.5,
        faults=(
            {"action": "close", "at": 6.0, "code": 1011, "conn": 1, "reason": DEADLINE},
            {"action": "close", "at": 0.7, "code": 1011, "conn": 2},  # before its goAway
        ),
    )


LOAD_CYCLE_S = SPEECH_S + SILENCE_COMMIT_S + REPLY_S + 0.3
"""One talk-and-listen cycle of a load agent (3.88 s): CPU is measured over whole cycles, so that a window
holds the same mix of talking, listening and silence wherever it starts."""


def load(quick: bool) -> Plan:
    """What each of the 1/4/16 agents does while CPU and memory are measured: talk, listen, repeat."""
    duration_s = 4.0 if quick else 20.0
    starts = tuple(0.3 + k * LOAD_CYCLE_S for k in range(int(120 / LOAD_CYCLE_S)))
    return Plan("load", duration_s=duration_s, speech_starts_s=starts)
