"""`runtime run` as a real process on the rig's fake microphone and speaker, talking to the emulator.

One agent on the default devices holds a spoken conversation through handovers (the emulator sends `goAway`
a few seconds into every connection) and a barge-in. The speech fed to the microphone carries marker tones
and the model answers in a one-letter voice, so this test finds its own audio even while other tests play
into the same rig.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from runtime.emulator import EmulatorOptions, EmulatorThread
from runtime.emulator.server import Emulator
from runtime.emulator.voice import CHAR_MS
from tests.audio.rig import feed_microphone, needs_rig
from tests.daemon.harness import MODEL, Daemon, start_daemon
from tests.e2e.signals import (
    MIC_RATE_HZ,
    REPLY_LETTER,
    SPEAKER_RATE_HZ,
    Segment,
    TimedRecorder,
    interruptions_sent,
    marker_arrivals,
    mic_audio,
    model_audio_sent,
    reply_heard,
    spoken,
)

pytestmark = [needs_rig, pytest.mark.timeout(90)]

GO_AWAY_AFTER_S = 3.0
REPLY = REPLY_LETTER * 50
"""3 s of the model's voice: long enough to barge into."""
REPLY_S = len(REPLY) * CHAR_MS / 1000
FIRST_HZ, SECOND_HZ, BARGE_IN_HZ, LAST_HZ = 2400.0, 2800.0, 3200.0, 3600.0
"""Marker tones under the four things the user says."""
MARKERS = {"first": FIRST_HZ, "second": SECOND_HZ, "barge_in": BARGE_IN_HZ, "last": LAST_HZ}
BARGE_IN_AFTER_S = 0.8
"""How much of the second reply plays before the user talks over it."""

AGENT = f"""\
name: e2e
model: {MODEL}
instructions: Answer briefly.
audio:
  input: {{device: default}}
  output: {{device: default}}
  echo: none
activity:
  mode: server
  start_sensitivity: low
  silence_duration_ms: 400
  barge_in: true
session:
  resumption: true
  transcription: {{input: true, output: true}}
"""

SCENARIO = f"""\
speech_transcripts: {["Set a timer."] * 12}
rules:
  - when: {{text: timer}}
    then:
      - say: "{REPLY}"
"""


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    with EmulatorThread(EmulatorOptions(scenario=scenario, go_away_after_s=GO_AWAY_AFTER_S)) as running:
        yield running


def start_agent(tmp_path: Path, emulator: Emulator) -> Daemon:
    agents = tmp_path / "agents"
    agents.mkdir(mode=0o755)
    (agents / "e2e.yaml").write_text(AGENT)
    return start_daemon(
        agents, tmp_path,
        "--base-url", emulator.base_url, "--ca-file", str(emulator.ca_file), "--verbose",
        env={"GEMINI_API_KEY": "test", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"},
    )  # fmt: skip


def say(samples: np.ndarray) -> float:
    """Play into the microphone; the monotonic time the playing started."""
    started = time.monotonic()
    feed_microphone(samples, MIC_RATE_HZ).join()
    return started


def wait_for(daemon: Daemon, pattern: str, after: int) -> int:
    """Index of the first log line at or after `after` that matches (waiting for it)."""
    daemon.wait_line(pattern, timeout_s=20, after=after)
    regex = re.compile(pattern)
    return next(i for i in range(after, len(daemon.lines)) if regex.search(daemon.lines[i]))


def turn(daemon: Daemon, tmp_path: Path, text: str, marker_hz: float, after: int) -> tuple[float, int]:
    """Say something once the session is connected; when it was said and the index of its turn's end."""
    connected = wait_for(daemon, r"e2e: .*connected \((new session|resumed)\)", after)
    said_at = say(spoken(text, tmp_path, marker_hz))
    return said_at, wait_for(daemon, r"e2e: turn_complete", connected)


def converse(daemon: Daemon, tmp_path: Path) -> dict[str, float]:
    """Turn 1 (heard in full), a handover, turn 2 (barged into) and the barge-in's own reply, another
    handover, turn 4."""
    say(np.zeros(MIC_RATE_HZ // 10, np.int16))  # the rig's first stream of a while starts slowly
    daemon.notify.expect("READY", timeout_s=20)
    fed: dict[str, float] = {}
    fed["first"], done = turn(daemon, tmp_path, "Set a timer.", FIRST_HZ, 0)
    second = wait_for(daemon, r"e2e: .*connected \(resumed\)", done)
    fed["second"] = say(spoken("Set a timer.", tmp_path, SECOND_HZ))
    reply_started = wait_for(daemon, r"e2e: agent: z", second)
    time.sleep(BARGE_IN_AFTER_S)  # let part of the reply play: the barge-in must cut a reply that is sounding
    fed["barge_in"] = say(spoken("Stop the timer.", tmp_path, BARGE_IN_HZ))
    interrupted = wait_for(daemon, r"e2e: interrupted$", reply_started)
    done = wait_for(daemon, r"e2e: turn_complete", interrupted)
    fed["last"], _ = turn(daemon, tmp_path, "Set a timer.", LAST_HZ, done)
    return fed


def connection_of(emulator: Emulator, marker_hz: float) -> tuple[int, float]:
    """The connection that received the first chunk with this marker, and when it arrived."""
    hits = marker_arrivals(emulator.records, marker_hz)
    assert hits, f"the emulator never received the {marker_hz:.0f} Hz marker fed to the microphone"
    return int(hits[0]["conn"]), float(hits[0]["mono"])


def first_audio_after(emulator: Emulator, at: float) -> float:
    """When the emulator sent the first chunk of the model's voice after `at`."""
    later = [float(m["mono"]) for m in model_audio_sent(emulator.sent) if float(m["mono"]) > at]
    assert later, "the emulator never answered"
    return later[0]


def heard_from(segments: list[Segment], sent_at: float) -> Segment:
    """The stretch of the reply voice on the speaker that began when this reply was sent."""
    heard = [s for s in segments if sent_at - 0.1 <= s.start <= sent_at + 1.0]
    assert heard, f"the reply sent at {sent_at:.2f} was never heard; heard: {segments}"
    return heard[0]


def test_spoken_conversation_through_handovers_and_a_barge_in(tmp_path: Path, emulator: Emulator) -> None:
    with TimedRecorder("rig_speaker_monitor", SPEAKER_RATE_HZ) as speaker:
        daemon = start_agent(tmp_path, emulator)
        try:
            fed = converse(daemon, tmp_path)
        finally:
            exit_code = daemon.stop()
            daemon.notify.close()
    assert exit_code == 0, "\n".join(daemon.lines[-30:])

    # the microphone reached the emulator on one connection after another: handovers between the turns
    arrived = {name: connection_of(emulator, hz) for name, hz in MARKERS.items()}
    conns = [arrived[name][0] for name in ("first", "second", "barge_in", "last")]
    assert conns[0] < conns[1] <= conns[2] < conns[3], f"markers arrived on connections {conns}"
    assert len(daemon.matching(r"e2e: .*connected \(resumed\)")) >= 2

    # the barge-in made the emulator interrupt the second reply
    interrupted = [m for m in interruptions_sent(emulator.sent) if float(m["mono"]) >= arrived["barge_in"][1]]
    assert interrupted, "no `interrupted` after the barge-in reached the emulator"
    interrupted_at = float(interrupted[0]["mono"])

    # every reply was heard; the interrupted one went quiet and did not come back before the next reply
    segments = reply_heard(speaker.samples(), speaker.sample_times())
    sent = {name: first_audio_after(emulator, arrived[name][1]) for name in ("first", "second", "last")}
    sent["after_barge_in"] = first_audio_after(emulator, interrupted_at)
    heard = {name: heard_from(segments, at) for name, at in sent.items()}
    for name in ("first", "after_barge_in", "last"):
        assert heard[name].seconds > REPLY_S - 0.5, f"the {name} reply was not heard in full: {heard[name]}"
    cut = heard["second"]
    assert cut.seconds < REPLY_S - 1.0, f"the interrupted reply played on: {cut}"
    assert not [s for s in segments if cut.end < s.start < heard["after_barge_in"].start], "it came back"

    print_figures(emulator, fed, arrived, sent, heard, interrupted_at)


def print_figures(
    emulator: Emulator,
    fed: dict[str, float],
    arrived: dict[str, tuple[int, float]],
    sent: dict[str, float],
    heard: dict[str, Segment],
    interrupted_at: float,
) -> None:
    records = [r for r in emulator.records if mic_audio(r) is not None]
    streamed_s = sum(pcm.size for r in records if (pcm := mic_audio(r)) is not None) / MIC_RATE_HZ
    by_conn: dict[int, list[float]] = {}
    for record in records:
        by_conn.setdefault(int(record["conn"]), []).append(float(record["mono"]))
    conns = sorted(by_conn)
    gaps = [min(by_conn[b]) - max(by_conn[a]) for a, b in itertools.pairwise(conns)]
    mic_ms = [f"{(arrived[name][1] - fed[name]) * 1000:.0f}" for name in MARKERS]
    out_ms = [f"{(heard[name].start - sent[name]) * 1000:.0f}" for name in sent]
    print(
        f"\ne2e figures: {len(conns)} connections, mic audio gaps at handovers (ms): "
        f"{', '.join(f'{g * 1000:.0f}' for g in gaps)}"
        f"\n  mic fed -> marker at the emulator (ms, incl. opening the feed stream): {', '.join(mic_ms)}"
        f"\n  reply sent -> heard on the speaker (ms): {', '.join(out_ms)}"
        f"\n  barge-in fed -> interrupted sent: {(interrupted_at - fed['barge_in']) * 1000:.0f} ms"
        f"\n  interrupted sent -> reply silent on the speaker: {(heard['second'].end - interrupted_at) * 1000:.0f} ms"
        f"\n  mic audio received {streamed_s:.1f} s over {records[-1]['mono'] - records[0]['mono']:.1f} s"
    )
